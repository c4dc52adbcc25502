package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"frameforge"
)

// codes is the one place where error codes become HTTP statuses.
var codes = map[string]int{
	frameforge.EInvalidRequest:    http.StatusBadRequest,
	frameforge.EMissingImage:      http.StatusBadRequest,
	frameforge.EInvalidImage:      http.StatusBadRequest,
	frameforge.EUnsupportedImage:  http.StatusUnsupportedMediaType,
	frameforge.EImageTooLarge:     http.StatusRequestEntityTooLarge,
	frameforge.ERequestTooLarge:   http.StatusRequestEntityTooLarge,
	frameforge.ETooManyImages:     http.StatusRequestEntityTooLarge,
	frameforge.ETooManyPixels:     http.StatusRequestEntityTooLarge,
	frameforge.EImageTooComplex:   http.StatusRequestEntityTooLarge,
	frameforge.EUnknownProvider:   http.StatusBadRequest,
	frameforge.EInvalidAPIKey:     http.StatusUnauthorized,
	frameforge.EProviderAuth:      http.StatusBadGateway,
	frameforge.EProviderInput:     http.StatusBadRequest,
	frameforge.EContentBlocked:    http.StatusUnprocessableEntity,
	frameforge.EUpstreamRateLimit: http.StatusTooManyRequests,
	frameforge.EUpstreamUnavail:   http.StatusServiceUnavailable,
	frameforge.EUpstreamError:     http.StatusBadGateway,
	frameforge.ENoImageReturned:   http.StatusBadGateway,
	frameforge.EUpstreamTimeout:   http.StatusGatewayTimeout,
	frameforge.ERateLimited:       http.StatusTooManyRequests,
	frameforge.EOverloaded:        http.StatusServiceUnavailable,
	frameforge.ERateLimitUnavail:  http.StatusServiceUnavailable,
	frameforge.EInterrupted:       http.StatusServiceUnavailable,
	frameforge.ERequestTimeout:    http.StatusRequestTimeout,
	frameforge.EHeadersTooLarge:   http.StatusRequestHeaderFieldsTooLarge,
	frameforge.EExpectationFailed: http.StatusExpectationFailed,
	frameforge.EJobNotFound:       http.StatusNotFound,
	frameforge.EJobNotFinished:    http.StatusConflict,
	frameforge.EResultNotFound:    http.StatusNotFound,
	frameforge.EJobFinished:       http.StatusConflict,
	frameforge.EIdemKeyInvalid:    http.StatusBadRequest,
	frameforge.EIdemKeyReused:     http.StatusUnprocessableEntity,
	frameforge.EIdemInProgress:    http.StatusConflict,
	frameforge.EInvalidPreset:     http.StatusBadRequest,
	frameforge.EInvalidWebhookURL: http.StatusBadRequest,
	frameforge.ETokenRequired:     http.StatusUnauthorized,
	frameforge.EUnauthorized:      http.StatusUnauthorized,
	frameforge.EQuotaExceeded:     http.StatusTooManyRequests,
	frameforge.ENotFound:          http.StatusNotFound,
	frameforge.EMethodNotAllowed:  http.StatusMethodNotAllowed,
	frameforge.ENotImplemented:    http.StatusNotImplemented,
	frameforge.EInternal:          http.StatusInternalServerError,
}

// ErrorStatus returns the HTTP status for an error code; unknown codes are 500.
func ErrorStatus(code string) int {
	if s, ok := codes[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// errorBody is the JSON shape of every error: FastAPI's "detail" (the
// shipped client shows data.detail) plus a stable code and the request id.
type errorBody struct {
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	RequestID string `json:"request_id"`
}

// writeError is the one error writer. Internal causes are logged with the
// request id; the client sees only the public message. A request cancelled
// before it finished is still answered (503 interrupted): net/http cancels a
// request whose client half-closed its connection, and that client still
// waits for an answer; writing to one that is truly gone costs nothing. An
// empty 200 is never the answer.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	ctx := r.Context()
	id := requestIDFrom(ctx)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		err = interrupted(ctx, err)
	}
	code := frameforge.ErrorCode(err)
	status := ErrorStatus(code)
	// The internal cause may quote an upstream's text, and an upstream may
	// quote the key it was sent: redact every key of this request here, at
	// the boundary, rather than trust each provider to scrub its errors.
	cause := redact(err.Error(), secretsFrom(ctx))
	switch {
	case status >= 500:
		log.ErrorContext(ctx, "request failed", "request_id", id, "code", code, "status", status, "err", cause)
	default:
		log.InfoContext(ctx, "request refused", "request_id", id, "code", code, "status", status, "err", cause)
	}
	if status == http.StatusUnauthorized && code != frameforge.EInvalidAPIKey {
		// Our own 401s are about the API token (RFC 6750); a provider key
		// refused upstream is the client's key, not ours to challenge.
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	if ra := frameforge.RetryAfter(err); ra > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((ra+time.Second-1)/time.Second)))
	}
	encode(w, status, errorBody{Detail: frameforge.ErrorMessage(err), Code: code, RequestID: id})
}

// interrupted says why a request was cancelled: the server's drain ran out
// (context.Cause is frameforge.ErrShuttingDown), or the connection closed.
func interrupted(ctx context.Context, err error) error {
	if errors.Is(context.Cause(ctx), frameforge.ErrShuttingDown) {
		return &frameforge.Error{Code: frameforge.EInterrupted, RetryAfter: time.Second, Err: err,
			Message: "The server is restarting and could not finish this request in time; try again in a moment."}
	}
	return &frameforge.Error{Code: frameforge.EInterrupted, RetryAfter: time.Second, Err: err,
		Message: "The request was cancelled before it finished because the connection was closed; try again."}
}

// redact replaces every occurrence of each secret in s.
func redact(s string, secrets []string) string {
	for _, k := range secrets {
		if k != "" {
			s = strings.ReplaceAll(s, k, "[redacted]")
		}
	}
	return s
}
