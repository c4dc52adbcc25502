package gemini

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"google.golang.org/genai"

	"frameforge"
	"frameforge/internal/httpbody"
	"frameforge/internal/provider/upstream"
)

// Public messages. They are the only text a client sees; none may carry an
// upstream body, a URL or a key.
const (
	msgClientKey    = "Gemini rejected the API key sent with the request (invalid, blocked or without access)."
	msgServerKey    = "The server's Gemini API key was rejected; please tell the operator."
	msgRateLimited  = "Gemini's rate limit or quota was exceeded; please try again later."
	msgInvalid      = "Gemini rejected the request as invalid."
	msgTooLarge     = "Gemini rejected the request as too large."
	msgRegion       = "Gemini image generation is not available for this account or region."
	msgRefused      = "Gemini refused the request."
	msgInternal     = "Gemini had an internal error; please try again later."
	msgUnavailable  = "Gemini is overloaded or unavailable; please try again later."
	msgUnreachable  = "Gemini could not be reached; please try again later."
	msgBadAnswer    = "Gemini returned an answer that could not be read."
	msgOversized    = "Gemini returned an answer larger than this server accepts."
	msgRedirect     = "Gemini answered with a redirect, which this server does not follow."
	msgUpstream     = "Gemini returned an unexpected error."
	msgTimeout      = "Gemini did not answer in time."
	msgCancelled    = "The request was cancelled before Gemini answered."
	msgNotAnImage   = "Gemini returned data that is not a supported image."
	msgNoImage      = "Gemini returned no image."
	msgInternalCall = "Internal error."
)

// rpcStatusName matches a google.rpc.Code name. The SDK puts the HTTP status
// line ("502 Bad Gateway") there instead when the body was not JSON.
var rpcStatusName = regexp.MustCompile(`^[A-Z][A-Z_]*$`)

// blockFinish are the finish reasons that mean a safety or policy filter
// stopped the output.
var blockFinish = map[genai.FinishReason]bool{
	genai.FinishReasonSafety:                 true,
	genai.FinishReasonImageSafety:            true,
	genai.FinishReasonProhibitedContent:      true,
	genai.FinishReasonImageProhibitedContent: true,
	genai.FinishReasonBlocklist:              true,
	genai.FinishReasonSPII:                   true,
	genai.FinishReasonRecitation:             true,
	genai.FinishReasonImageRecitation:        true,
}

// failure builds the returned error (upstream.Failure: the cause hides the
// key and is bounded).
func failure(code, msg string, err error, secret string) *frameforge.Error {
	return upstream.Failure("gemini", code, msg, err, secret)
}

// classify maps an SDK error of one attempt. Context errors are handled by
// the caller before this.
func classify(err error, model string, key frameforge.Key) upstream.Outcome {
	secret := key.Reveal()
	var apiErr genai.APIError
	switch {
	case errors.As(err, &apiErr):
		return classifyAPI(apiErr, err, model, key)
	case errors.Is(err, errMarkerMissing):
		// Our bug (or an SDK change), not the network: never retried.
		return upstream.Outcome{Err: failure(frameforge.EInternal, msgInternalCall, err, secret), Label: "internal"}
	case errors.Is(err, httpbody.ErrTooLarge):
		// An endless or decompression-bomb body: asking again would only
		// bring the next one.
		return upstream.Outcome{Err: failure(frameforge.EUpstreamError, msgOversized, err, secret), Label: "too large"}
	case errors.Is(err, errSDKPanic):
		return upstream.Outcome{Err: failure(frameforge.EUpstreamError, msgBadAnswer, err, secret), Label: "unreadable (SDK panic)"}
	case errors.Is(err, context.DeadlineExceeded):
		// http.Client.Timeout fired although ctx is still alive: the
		// operator's per-call budget is spent, another attempt would be too.
		return upstream.Outcome{Err: failure(frameforge.EUpstreamTimeout, msgTimeout, err, secret), Label: "timeout"}
	case isTransport(err):
		return upstream.Outcome{Err: failure(frameforge.EUpstreamUnavail, msgUnreachable, err, secret), Retry: true, Label: "transport"}
	}
	// JSON that does not parse, or an SDK-side refusal: retrying will not help.
	return upstream.Outcome{Err: failure(frameforge.EUpstreamError, msgBadAnswer, err, secret), Label: "unreadable"}
}

// isTransport reports a connection-level failure: dial, TLS, reset, or a
// body cut short.
func isTransport(err error) bool {
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

func classifyAPI(e genai.APIError, err error, model string, key frameforge.Key) upstream.Outcome {
	secret := key.Reveal()
	code := e.Code
	if code == 0 {
		code = statusCode(e.Status)
	}
	o := upstream.Outcome{Label: fmt.Sprint(code), Hint: retryDelay(e.Details)}
	fail := func(c, msg string) upstream.Outcome {
		o.Err = failure(c, msg, err, secret)
		if c == frameforge.EUpstreamRateLimit || c == frameforge.EUpstreamUnavail {
			o.Err.RetryAfter = roundUpSeconds(o.Hint)
		}
		return o
	}
	rpc := rpcStatusName.MatchString(e.Status)
	switch {
	case code >= 500:
		o.Retry = code == http.StatusInternalServerError || code == http.StatusBadGateway ||
			code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout
		switch code {
		case http.StatusServiceUnavailable:
			return fail(frameforge.EUpstreamUnavail, msgUnavailable)
		case http.StatusGatewayTimeout:
			return fail(frameforge.EUpstreamTimeout, msgTimeout)
		case http.StatusInternalServerError:
			if rpc {
				return fail(frameforge.EUpstreamError, msgInternal)
			}
		}
		return fail(frameforge.EUpstreamError, msgUpstream)
	case code >= 300 && code < 400:
		// New's client does not follow redirects (they would carry the
		// key and the photo to another host); the SDK hands us the 3xx.
		return fail(frameforge.EUpstreamError, msgRedirect)
	case code == http.StatusTooManyRequests:
		// Not retried: quotas do not reset by asking again.
		return fail(frameforge.EUpstreamRateLimit, msgRateLimited)
	case !rpc:
		// An HTML or plain-text body from something in front of Google:
		// the status alone says too little to blame the client.
		return fail(frameforge.EUpstreamError, msgUpstream)
	case isKeyProblem(e, code):
		if key.FromClient() {
			return fail(frameforge.EInvalidAPIKey, msgClientKey)
		}
		return fail(frameforge.EProviderAuth, msgServerKey)
	case code == http.StatusNotFound:
		return fail(frameforge.EUpstreamError, fmt.Sprintf("The configured Gemini model %q is not available.", model))
	case code == http.StatusRequestEntityTooLarge:
		return fail(frameforge.EProviderInput, msgTooLarge)
	case code == http.StatusBadRequest && e.Status == "FAILED_PRECONDITION":
		return fail(frameforge.EUpstreamError, msgRegion)
	case code == http.StatusBadRequest:
		if strings.Contains(e.Message, "payload size exceeds") {
			return fail(frameforge.EProviderInput, msgTooLarge)
		}
		return fail(frameforge.EProviderInput, msgInvalid)
	}
	return fail(frameforge.EUpstreamError, msgRefused)
}

// isKeyProblem: a bad key is 400 INVALID_ARGUMENT with ErrorInfo
// API_KEY_INVALID (some variants only say so in the message); a leaked,
// blocked or suspended key is 403 PERMISSION_DENIED; 401 for completeness.
func isKeyProblem(e genai.APIError, code int) bool {
	switch code {
	case http.StatusUnauthorized, http.StatusForbidden:
		return true
	case http.StatusBadRequest:
		for _, d := range e.Details {
			if t, _ := d["@type"].(string); strings.HasSuffix(t, "google.rpc.ErrorInfo") {
				if r, _ := d["reason"].(string); strings.HasPrefix(r, "API_KEY_") {
					return true
				}
			}
		}
		return e.Status == "INVALID_ARGUMENT" && strings.Contains(strings.ToLower(e.Message), "api key")
	}
	return false
}

// statusCode maps a google.rpc.Code name to its HTTP status, for errors that
// arrive without a code.
func statusCode(status string) int {
	switch status {
	case "INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE":
		return http.StatusBadRequest
	case "UNAUTHENTICATED":
		return http.StatusUnauthorized
	case "PERMISSION_DENIED":
		return http.StatusForbidden
	case "NOT_FOUND":
		return http.StatusNotFound
	case "RESOURCE_EXHAUSTED":
		return http.StatusTooManyRequests
	case "UNAVAILABLE":
		return http.StatusServiceUnavailable
	case "DEADLINE_EXCEEDED":
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// retryDelay reads google.rpc.RetryInfo.retryDelay, a proto Duration string
// such as "53s" or "1.5s", from the error details; 0 when absent or invalid.
func retryDelay(details []map[string]any) time.Duration {
	for _, d := range details {
		if t, _ := d["@type"].(string); !strings.HasSuffix(t, "google.rpc.RetryInfo") {
			continue
		}
		switch v := d["retryDelay"].(type) {
		case string:
			if dur, err := time.ParseDuration(v); err == nil && dur > 0 {
				return dur
			}
		case map[string]any: // {"seconds": "53", "nanos": 0} in some proto renderings
			var secs, nanos float64
			switch s := v["seconds"].(type) {
			case float64:
				secs = s
			case string:
				_, _ = fmt.Sscan(s, &secs)
			}
			if n, ok := v["nanos"].(float64); ok {
				nanos = n
			}
			if dur := time.Duration(secs*float64(time.Second) + nanos); dur > 0 {
				return dur
			}
		}
	}
	return 0
}

// roundUpSeconds makes a Retry-After hint of whole seconds, never shorter
// than asked.
func roundUpSeconds(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(d.Seconds())) * time.Second
}

// contextFailure maps the end of ctx: a deadline is our budget running out
// (504); a cancellation is the client hanging up, and the error must keep
// wrapping context.Canceled so the HTTP layer can tell.
func contextFailure(ctx context.Context, last error, secret string) *frameforge.Error {
	cerr := ctx.Err()
	if last != nil && !errors.Is(last, cerr) {
		cerr = fmt.Errorf("%w (last attempt: %w)", cerr, last)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return failure(frameforge.EUpstreamTimeout, msgTimeout, cerr, secret)
	}
	return failure(frameforge.EUpstreamUnavail, msgCancelled, cerr, secret)
}
