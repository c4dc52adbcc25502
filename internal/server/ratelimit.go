package server

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"frameforge"
	"frameforge/internal/metrics"
	"frameforge/internal/ratelimit"
)

// rateLimits are the two per-client budgets: edits, and everything else.
type rateLimits struct {
	edit, other *ratelimit.Limiter
	trusted     []netip.Prefix
	ipv6Prefix  int
	m           *metrics.Metrics
}

func newRateLimits(cfg Config, m *metrics.Metrics, now func() time.Time) *rateLimits {
	return &rateLimits{
		edit:       ratelimit.New(cfg.RateLimitEdit, now),
		other:      ratelimit.New(cfg.RateLimitDefault, now),
		trusted:    cfg.TrustedProxies,
		ipv6Prefix: cfg.RateLimitIPv6Prefix,
		m:          m,
	}
}

// withRateLimit spends one request of the client's budget lim, sets the
// standard RateLimit-* headers on every limited response, and refuses with
// 429 and Retry-After when the budget is spent.
func withRateLimit(log *slog.Logger, rl *rateLimits, lim *ratelimit.Limiter, next http.Handler) http.Handler {
	budget := "default"
	if lim == rl.edit {
		budget = "edit"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := lim.Take(clientKey(r, rl.trusted, rl.ipv6Prefix))
		if d.Limit == 0 { // budget off
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
		h.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
		h.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(d.Reset)))
		if !d.Allowed {
			rl.m.RateLimited(budget)
			writeError(w, r, log, &frameforge.Error{Code: frameforge.ERateLimited, RetryAfter: max(d.RetryAfter, time.Second),
				Message: "Too many requests from this client: the limit is " + strconv.Itoa(d.Limit) + " " + budgetNoun(budget) +
					" per " + period(lim) + ". Try again in " + strconv.Itoa(ceilSeconds(d.RetryAfter)) + " s."})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func budgetNoun(budget string) string {
	if budget == "edit" {
		return "edits"
	}
	return "requests"
}

func period(l *ratelimit.Limiter) string { return l.Rule().PeriodName() }

func ceilSeconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }

// clientKey names the client whose budget a request spends: its address
// (see clientIP), with an IPv6 address widened to its network of ipv6Prefix
// bits (see ratelimit.AddrKey).
func clientKey(r *http.Request, trusted []netip.Prefix, ipv6Prefix int) string {
	addr, ok := clientIP(r, trusted)
	if !ok { // not an IP connection (a unix socket): the peer name, without a port that varies per connection
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			return host
		}
		return r.RemoteAddr
	}
	return ratelimit.AddrKey(addr, ipv6Prefix)
}

// clientIP is the address that connected, unless that address is a trusted
// proxy: then X-Forwarded-For is read from the right, skipping trusted
// proxies, and the first other address is the client. A spoofed header from
// anyone else changes nothing. ok is false when RemoteAddr is not an IP.
func clientIP(r *http.Request, trusted []netip.Prefix) (addr netip.Addr, ok bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err = netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	addr = addr.Unmap()
	if !isTrusted(addr, trusted) {
		return addr, true
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // garbage: stop at the last address we could trust
		}
		hop = hop.Unmap()
		if !isTrusted(hop, trusted) {
			return hop, true
		}
		addr = hop
	}
	return addr, true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
