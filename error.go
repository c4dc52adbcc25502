package frameforge

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Error codes. Each is stable and machine-readable; the HTTP package maps
// each to exactly one status code, and nothing else in the project knows
// about HTTP statuses of our own responses.
const (
	EInvalidRequest    = "invalid_request"         // malformed multipart, not multipart, bad field
	EMissingImage      = "missing_image"           // no file uploaded
	EInvalidImage      = "invalid_image"           // empty, truncated or not an image
	EUnsupportedImage  = "unsupported_image_type"  // recognised but not supported (HEIC, AVIF)
	EImageTooLarge     = "image_too_large"         // one file over the byte limit
	ERequestTooLarge   = "request_too_large"       // all files together over the limit
	ETooManyImages     = "too_many_images"         // more files than allowed
	ETooManyPixels     = "image_too_many_pixels"   // header claims more pixels than allowed
	EImageTooComplex   = "image_too_complex"       // decoding would cost more than the server allows (memory, scans)
	EUnknownProvider   = "unknown_provider"        // provider name not recognised
	EInvalidAPIKey     = "invalid_api_key"         // the client's key was rejected upstream
	EProviderAuth      = "provider_auth_failed"    // the server's own key was rejected upstream
	EProviderInput     = "provider_rejected_input" // the provider refused the input (validation)
	EContentBlocked    = "content_blocked"         // safety filter blocked prompt or output
	EUpstreamRateLimit = "upstream_rate_limited"   // provider quota or rate limit
	EUpstreamUnavail   = "upstream_unavailable"    // provider overloaded or down after retries
	EUpstreamError     = "upstream_error"          // provider failed or answered nonsense
	ENoImageReturned   = "no_image_returned"       // provider answered without an image
	EUpstreamTimeout   = "upstream_timeout"        // provider too slow for our deadline
	ERateLimited       = "rate_limited"            // this server's own per-client limit
	EOverloaded        = "overloaded"              // this server's edit queue is full
	ERateLimitUnavail  = "rate_limit_unavailable"  // the shared rate limiter (Redis) is down and REDIS_FAILURE=closed
	EInterrupted       = "interrupted"             // the request was cancelled before it finished (connection closed, shutdown)
	ERequestTimeout    = "request_timeout"         // client too slow sending its request
	EHeadersTooLarge   = "headers_too_large"       // the request headers are over the limit
	EExpectationFailed = "expectation_failed"      // an Expect header other than 100-continue
	EJobNotFound       = "job_not_found"           // no such job, or it expired
	EJobNotFinished    = "job_not_finished"        // a result asked for while the job is queued or running
	EResultNotFound    = "result_not_found"        // the job ended without that result
	EJobFinished       = "job_finished"            // cancel asked for a job already ended
	EIdemKeyInvalid    = "invalid_idempotency_key" // Idempotency-Key too long or not printable ASCII
	EIdemKeyReused     = "idempotency_key_reused"  // the key was used for a different request
	EIdemInProgress    = "idempotency_in_progress" // the first request with that key is still being accepted
	EInvalidPreset     = "invalid_preset"          // unknown room_type or style
	EInvalidWebhookURL = "invalid_webhook_url"     // webhook_url not an acceptable https URL
	ETokenRequired     = "token_required"          // the endpoint works per API token, and none was sent (AUTH=off)
	EUnauthorized      = "unauthorized"            // a token is required and missing, or the one sent is not valid, revoked or expired
	EQuotaExceeded     = "quota_exceeded"          // the token's quota of edits for this period is used up
	ENotFound          = "not_found"
	EMethodNotAllowed  = "method_not_allowed"
	ENotImplemented    = "not_implemented"
	EInternal          = "internal_error"
)

// Codes lists every error code, for the tests that check each has an HTTP
// status and a documented meaning.
func Codes() []string {
	return []string{EInvalidRequest, EMissingImage, EInvalidImage, EUnsupportedImage, EImageTooLarge,
		ERequestTooLarge, ETooManyImages, ETooManyPixels, EImageTooComplex, EUnknownProvider, EInvalidAPIKey,
		EProviderAuth, EProviderInput, EContentBlocked, EUpstreamRateLimit, EUpstreamUnavail, EUpstreamError,
		ENoImageReturned, EUpstreamTimeout, ERateLimited, ERateLimitUnavail, EOverloaded, EInterrupted, ERequestTimeout, EHeadersTooLarge, EExpectationFailed,
		EJobNotFound, EJobNotFinished, EResultNotFound, EJobFinished, EIdemKeyInvalid, EIdemKeyReused, EIdemInProgress,
		EInvalidPreset, EInvalidWebhookURL, ETokenRequired, EUnauthorized, EQuotaExceeded, ENotFound,
		EMethodNotAllowed, ENotImplemented, EInternal}
}

// Error is an application error: a code, a sentence a person understands, and
// optionally the internal cause (logged, never shown) and a retry hint.
type Error struct {
	Code       string
	Message    string        // public: safe to show to the client
	RetryAfter time.Duration // optional hint for 429/503 answers
	Err        error         // internal cause, for logs only
}

// Errorf returns an *Error with a formatted public message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with the given public message and internal cause.
func Wrap(err error, code, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// ErrShuttingDown is the cause with which the server cancels the requests
// still running when its drain time is over.
var ErrShuttingDown = errors.New("the server is shutting down")

// ErrorCode returns the code of the first *Error in err's chain. A context
// deadline becomes EUpstreamTimeout; anything else unknown is EInternal.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	case errors.Is(err, context.DeadlineExceeded):
		return EUpstreamTimeout
	}
	return EInternal
}

// ErrorMessage returns the public message of err. Errors that are not *Error
// never show their text: it may hold an upstream body, a URL or a key.
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	case errors.Is(err, context.DeadlineExceeded):
		return "The AI provider did not answer in time."
	}
	return "Internal error."
}

// RetryAfter returns the retry hint carried by err, or 0.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}
