package fal

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"frameforge"
)

// upstreamError is the internal cause of a failed fal call: what fal said,
// with URLs and the key scrubbed, because it is logged. Public messages are
// built separately and never include fal's raw body.
type upstreamError struct {
	Op        string // submit, status, result, upload
	Status    int
	ErrorType string
	Detail    string
}

func (e *upstreamError) Error() string {
	s := fmt.Sprintf("fal %s: HTTP %d", e.Op, e.Status)
	if e.ErrorType != "" {
		s += " [" + e.ErrorType + "]"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// errorBody is fal's error body. detail is a string (request errors, auth)
// or a list of field errors (model validation, 422).
type errorBody struct {
	Detail    json.RawMessage `json:"detail"`
	ErrorType string          `json:"error_type"`
}

// fieldError is one validation error of a 422 (FastAPI/pydantic shape).
type fieldError struct {
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
	Type string `json:"type"`
}

// Limits of what a 422 summary repeats of fal's message.
const (
	maxFieldErrors  = 3
	maxFieldErrChar = 200
)

// httpError maps a non-2xx fal answer to the client-facing error:
//
//	401/403          EInvalidAPIKey (the client's key) or EProviderAuth (ours)
//	422              EProviderInput, or EContentBlocked for content_policy_violation
//	429              EUpstreamRateLimit, RetryAfter from Retry-After
//	503              EUpstreamUnavail, RetryAfter from Retry-After
//	other 4xx, 5xx   EUpstreamError
//
// Messages summarise fal's answer; the key and URLs are scrubbed from
// everything that is kept.
func httpError(op string, key frameforge.Key, r response) *frameforge.Error {
	var body errorBody
	_ = json.Unmarshal(r.body, &body) // not JSON: no detail, still mapped by status
	detail, fields := parseDetail(body.Detail)
	errType := safeErrorType(r.header.Get("X-Fal-Error-Type"))
	if errType == "" {
		errType = safeErrorType(body.ErrorType)
	}
	cause := &upstreamError{Op: op, Status: r.status, ErrorType: errType, Detail: scrub(detail, key, 300)}
	if detail == "" && len(fields) == 0 && len(r.body) > 0 {
		cause.Detail = "body: " + scrub(string(r.body), key, 200)
	}
	for _, f := range fields {
		if cause.Detail != "" {
			cause.Detail += "; "
		}
		cause.Detail += f.Type + " " + scrub(fieldSummary(f), key, maxFieldErrChar)
	}
	e := &frameforge.Error{Err: cause}

	switch {
	case r.status == http.StatusUnauthorized || r.status == http.StatusForbidden:
		note := ""
		if lower := strings.ToLower(detail); strings.Contains(lower, "locked") {
			note = ": the fal.ai account is locked"
			if strings.Contains(lower, "balance") {
				note += " (exhausted balance)"
			}
		}
		if key.FromClient() {
			e.Code, e.Message = frameforge.EInvalidAPIKey, "fal.ai rejected your API key"+note+"."
		} else {
			e.Code, e.Message = frameforge.EProviderAuth, "fal.ai rejected this server's API key"+note+"; this is not a problem with your request."
		}

	case r.status == http.StatusUnprocessableEntity:
		blocked := errType == "content_policy_violation"
		var parts []string
		for i, f := range fields {
			blocked = blocked || f.Type == "content_policy_violation"
			if i < maxFieldErrors {
				parts = append(parts, scrub(fieldSummary(f), key, maxFieldErrChar))
			}
		}
		if len(fields) > maxFieldErrors {
			parts = append(parts, fmt.Sprintf("and %d more", len(fields)-maxFieldErrors))
		}
		if detail != "" {
			parts = append(parts, scrub(detail, key, maxFieldErrChar))
		}
		summary := ""
		if len(parts) > 0 {
			summary = ": " + strings.TrimSuffix(strings.Join(parts, "; "), ".")
		}
		if blocked {
			e.Code, e.Message = frameforge.EContentBlocked, "fal.ai's content checker blocked the request"+summary+"."
		} else {
			e.Code, e.Message = frameforge.EProviderInput, "fal.ai rejected the input"+summary+"."
		}

	case r.status == http.StatusTooManyRequests:
		e.Code, e.Message = frameforge.EUpstreamRateLimit, "fal.ai is limiting our requests; try again later."
		e.RetryAfter = retryAfter(r.header)

	case r.status == http.StatusServiceUnavailable:
		e.Code, e.Message = frameforge.EUpstreamUnavail, "fal.ai cannot run the model right now"+paren(errType)+"; try again later."
		e.RetryAfter = retryAfter(r.header)

	case r.status >= 500:
		e.Code, e.Message = frameforge.EUpstreamError, fmt.Sprintf("fal.ai failed to run the edit (HTTP %d%s).", r.status, commaType(errType))

	default:
		e.Code, e.Message = frameforge.EUpstreamError, fmt.Sprintf("fal.ai refused the request (HTTP %d%s).", r.status, commaType(errType))
	}
	return e
}

// parseDetail splits a raw detail into its string or field-error form.
func parseDetail(raw json.RawMessage) (string, []fieldError) {
	if len(raw) == 0 {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var fields []fieldError
	if json.Unmarshal(raw, &fields) == nil {
		return "", fields
	}
	var one fieldError
	if json.Unmarshal(raw, &one) == nil && one.Msg != "" {
		return "", []fieldError{one}
	}
	return "", nil
}

// fieldSummary renders a field error as "image_url: field required"; the
// "body" prefix of loc says nothing to our users.
func fieldSummary(f fieldError) string {
	var loc []string
	for i, l := range f.Loc {
		s := fmt.Sprint(l)
		if i == 0 && s == "body" && len(f.Loc) > 1 {
			continue
		}
		loc = append(loc, s)
	}
	if len(loc) == 0 {
		return f.Msg
	}
	return strings.Join(loc, ".") + ": " + f.Msg
}

// transportError maps a failed exchange (network, body over a limit). The
// cause has lost its URL in send. A timeout of the HTTP client (not of the
// request's context, which Edit handles) is an upstream timeout.
func transportError(op string, err error) *frameforge.Error {
	if errors.Is(err, errRedirect) {
		return &frameforge.Error{
			Code:    frameforge.EUpstreamError,
			Message: "fal.ai answered with a redirect, which this server does not follow.",
			Err:     fmt.Errorf("fal %s: %w", op, err),
		}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &frameforge.Error{
			Code:    frameforge.EUpstreamTimeout,
			Message: "fal.ai did not answer in time.",
			Err:     fmt.Errorf("fal %s: %w", op, err),
		}
	}
	return &frameforge.Error{
		Code:    frameforge.EUpstreamError,
		Message: "Could not reach fal.ai.",
		Err:     fmt.Errorf("fal %s: %w", op, err),
	}
}

// badAnswer maps a 2xx answer we cannot use (garbage JSON, missing fields).
func badAnswer(op string, r response, err error) *frameforge.Error {
	return &frameforge.Error{
		Code:    frameforge.EUpstreamError,
		Message: "fal.ai sent an answer we could not understand.",
		Err:     fmt.Errorf("fal %s: HTTP %d: %w", op, r.status, err),
	}
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		return max(time.Duration(secs)*time.Second, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t).Round(time.Second), 0)
	}
	return 0
}

// safeErrorType keeps an error_type only if it looks like one of fal's
// machine codes (lower snake case), so it can go into a public message.
func safeErrorType(s string) string {
	if s == "" || len(s) > 50 {
		return ""
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '_' || r >= '0' && r <= '9') {
			return ""
		}
	}
	return s
}

func paren(errType string) string {
	if errType == "" {
		return ""
	}
	return " (" + errType + ")"
}

func commaType(errType string) string {
	if errType == "" {
		return ""
	}
	return ", " + errType
}

// urlPattern finds URLs and data URIs, which may carry signed tokens or
// someone's photo, in text we keep.
var urlPattern = regexp.MustCompile(`(?i)\b(?:https?|data|gs|s3):[^\s"'<>]+`)

// scrubURLs replaces URLs with a placeholder.
func scrubURLs(s string) string { return urlPattern.ReplaceAllString(s, "[url]") }

// scrub makes fal's text safe to keep: the key (whole, and its id and secret
// halves) and URLs are replaced, whitespace collapsed, length capped.
func scrub(s string, key frameforge.Key, maxChars int) string {
	if k := key.Reveal(); k != "" {
		s = strings.ReplaceAll(s, k, "[redacted]")
		id, secret, _ := strings.Cut(k, ":")
		for _, part := range []string{secret, id} {
			if len(part) >= 6 {
				s = strings.ReplaceAll(s, part, "[redacted]")
			}
		}
	}
	s = scrubURLs(s)
	s = strings.Join(strings.Fields(s), " ")
	return truncate(s, maxChars)
}

// truncate cuts s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// parseURL parses an absolute http(s) URL.
func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("not an http(s) URL")
	}
	return u, nil
}

// withQuery returns rawURL with one query parameter set.
func withQuery(rawURL, name, value string) (string, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set(name, value)
	u.RawQuery = q.Encode()
	return u.String(), nil
}
