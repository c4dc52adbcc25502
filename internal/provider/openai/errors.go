package openai

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	sdk "github.com/openai/openai-go/v3"

	"frameforge"
	"frameforge/internal/httpbody"
	"frameforge/internal/provider/upstream"
)

// Public messages. They are the only text a client sees; none may carry an
// upstream body, a URL or a key.
const (
	msgClientKey    = "OpenAI rejected the API key sent with the request (invalid, revoked or without access)."
	msgServerKey    = "The server's OpenAI API key was rejected; please tell the operator."
	msgModeration   = "OpenAI's safety system blocked the request (moderation_blocked)."
	msgRateLimited  = "OpenAI's rate limit or quota was exceeded; please try again later."
	msgInvalid      = "OpenAI rejected the request as invalid."
	msgInternal     = "OpenAI had an internal error; please try again later."
	msgUnavailable  = "OpenAI is overloaded or unavailable; please try again later."
	msgUnreachable  = "OpenAI could not be reached; please try again later."
	msgBadAnswer    = "OpenAI returned an answer that could not be read."
	msgOversized    = "OpenAI returned an answer larger than this server accepts."
	msgRedirect     = "OpenAI answered with a redirect, which this server does not follow."
	msgUpstream     = "OpenAI returned an unexpected error."
	msgTimeout      = "OpenAI did not answer in time."
	msgCancelled    = "The request was cancelled before OpenAI answered."
	msgNoImage      = "OpenAI returned no image."
	msgNotAnImage   = "OpenAI returned data that is not a supported image."
	msgInternalCall = "Internal error."
)

// failure builds the returned error (upstream.Failure: the cause hides the
// key and is bounded).
func failure(code, msg string, err error, secret string) *frameforge.Error {
	return upstream.Failure("openai", code, msg, err, secret)
}

// classify maps an SDK error of one attempt. Context errors are handled by
// the caller before this.
func classify(err error, model string, key frameforge.Key) upstream.Outcome {
	secret := key.Reveal()
	var apiErr *sdk.Error
	switch {
	case errors.As(err, &apiErr):
		return classifyAPI(apiErr, err, model, key)
	case errors.Is(err, httpbody.ErrTooLarge):
		return upstream.Outcome{Err: failure(frameforge.EUpstreamError, msgOversized, err, secret), Label: "too large"}
	case errors.Is(err, context.DeadlineExceeded):
		// http.Client.Timeout fired although ctx is still alive.
		return upstream.Outcome{Err: failure(frameforge.EUpstreamTimeout, msgTimeout, err, secret), Label: "timeout"}
	case strings.Contains(err.Error(), "error parsing response json"):
		// The SDK wraps the decoder's error, io.ErrUnexpectedEOF for a cut
		// document: it is an unreadable answer, not a broken connection.
		return upstream.Outcome{Err: failure(frameforge.EUpstreamError, msgBadAnswer, err, secret), Label: "unreadable"}
	case isTransport(err):
		return upstream.Outcome{Err: failure(frameforge.EUpstreamUnavail, msgUnreachable, err, secret), Retry: true, Label: "transport"}
	}
	// JSON that does not parse: retrying will not help.
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

// classifyAPI maps an OpenAI error answer, whose body is
// {"error":{"message","type","param","code"}} (docs/providers.md, OpenAI).
func classifyAPI(e *sdk.Error, err error, model string, key frameforge.Key) upstream.Outcome {
	secret := key.Reveal()
	code := e.StatusCode
	o := upstream.Outcome{Label: strconv.Itoa(code)}
	if e.Response != nil {
		o.Hint = retryAfter(e.Response.Header, time.Now())
	}
	fail := func(c, msg string) upstream.Outcome {
		o.Err = failure(c, msg, err, secret)
		if c == frameforge.EUpstreamRateLimit || c == frameforge.EUpstreamUnavail {
			o.Err.RetryAfter = roundUpSeconds(o.Hint)
		}
		return o
	}
	switch {
	case e.Code == "moderation_blocked":
		// 400 image_generation_user_error: the safety system, not a bad
		// request; asking again gives the same answer.
		return fail(frameforge.EContentBlocked, msgModeration)
	case code >= 500:
		o.Retry = code == http.StatusInternalServerError || code == http.StatusBadGateway ||
			code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout
		switch code {
		case http.StatusServiceUnavailable:
			return fail(frameforge.EUpstreamUnavail, msgUnavailable)
		case http.StatusGatewayTimeout:
			return fail(frameforge.EUpstreamTimeout, msgTimeout)
		case http.StatusInternalServerError:
			return fail(frameforge.EUpstreamError, msgInternal)
		}
		return fail(frameforge.EUpstreamError, msgUpstream)
	case code >= 300 && code < 400:
		return fail(frameforge.EUpstreamError, msgRedirect)
	case code == http.StatusTooManyRequests:
		// Not retried: quotas do not reset by asking again.
		return fail(frameforge.EUpstreamRateLimit, msgRateLimited)
	case code == http.StatusUnauthorized || code == http.StatusForbidden || e.Code == "invalid_api_key":
		if key.FromClient() {
			return fail(frameforge.EInvalidAPIKey, msgClientKey)
		}
		return fail(frameforge.EProviderAuth, msgServerKey)
	case code == http.StatusNotFound || e.Code == "model_not_found":
		return fail(frameforge.EUpstreamError, fmt.Sprintf("The OpenAI model %q is not available.", model))
	case code == http.StatusBadRequest || code == http.StatusRequestEntityTooLarge ||
		code == http.StatusUnprocessableEntity:
		return fail(frameforge.EProviderInput, msgInvalid)
	}
	return fail(frameforge.EUpstreamError, msgUpstream)
}

// retryAfter reads Retry-After-Ms, then Retry-After (seconds or an HTTP
// date); 0 when absent or invalid.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 && ms < 1e9 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s > 0 && s < 1e6 {
			return time.Duration(s * float64(time.Second))
		}
		return 0
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
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
// (504); a cancellation is the client hanging up, and the error keeps
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
