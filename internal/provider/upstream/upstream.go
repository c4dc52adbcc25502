// Package upstream is what every provider client does the same way with its
// HTTP connection: a client that follows no redirect and bounds every answer
// body, waits that end with the context, jittered backoff, and the check of a
// configured base URL. The providers import it; it imports none of them.
package upstream

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"frameforge/internal/httpbody"
)

// Client returns a copy of hc (the caller's is untouched) that never follows
// a redirect and bounds every answer body: maxBody for a 2xx, maxErrorBody
// otherwise (httpbody.Transport). Go re-sends a 307/308 with its body and
// every header but Authorization and cookies to whatever host Location
// names, which for a provider means its key header and the photo; so a
// redirect is an answer, and the caller maps it to upstream_error.
func Client(hc *http.Client, maxBody, maxErrorBody int64) *http.Client {
	if hc == nil {
		hc = &http.Client{}
	}
	own := *hc
	own.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	own.Transport = &httpbody.Transport{Base: base, MaxBody: maxBody, MaxErrorBody: maxErrorBody}
	return &own
}

// Sleep waits d, or until ctx ends and then returns its error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Backoff is the wait before attempt+1: the server's hint when it gave one,
// else exponential backoff from base with full jitter, capped at max.
func Backoff(attempt int, base, max, hint time.Duration) time.Duration {
	if hint > 0 {
		return hint
	}
	ceil := max
	if shift := attempt - 1; shift < 32 {
		if d := base << shift; d > 0 && d < ceil {
			ceil = d
		}
	}
	if ceil <= 0 {
		return 0
	}
	return rand.N(ceil)
}

// IsBaseURL reports whether s can be a provider's base URL: absolute http
// or https with a host, and no query, fragment or credentials (paths are
// appended to it).
func IsBaseURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.RawQuery == "" && u.Fragment == "" && u.User == nil
}
