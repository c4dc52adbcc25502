package server

import (
	"context"
	"fmt"
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

// RateLimiter spends one request of a client's budget under a rule. The
// in-memory ratelimit.Set (one per replica) is the default; a limiter that
// replicas share (Redis) fits behind the same method. key carries its
// budget's name, so budgets with equal rules stay apart.
type RateLimiter interface {
	Take(ctx context.Context, key string, rule ratelimit.Rule) (ratelimit.Decision, error)
}

// rateLimits are the per-client budgets: edits (RATE_LIMIT_EDIT, or an API
// token's own rate), and everything else (RATE_LIMIT_DEFAULT).
type rateLimits struct {
	lim         RateLimiter
	edit, other ratelimit.Rule
	trusted     []netip.Prefix
	ipv6Prefix  int
	m           *metrics.Metrics
}

func newRateLimits(cfg Config, lim RateLimiter, m *metrics.Metrics, now func() time.Time) *rateLimits {
	if lim == nil {
		lim = ratelimit.NewSet(now)
	}
	return &rateLimits{
		lim:        lim,
		edit:       cfg.RateLimitEdit,
		other:      cfg.RateLimitDefault,
		trusted:    cfg.TrustedProxies,
		ipv6Prefix: cfg.RateLimitIPv6Prefix,
		m:          m,
	}
}

// budget names what a route spends per request: nothing, the default
// budget (spent on arrival), or the edit budget (spent by the handler once
// the request is admitted toward a provider: see access.admit).
type budget string

const (
	noBudget      budget = ""
	defaultBudget budget = "default"
	editBudget    budget = "edit"
)

// take spends one request of key's budget b under rule, sets the standard
// RateLimit-* headers when the rule limits, and returns a 429 rate_limited
// error with Retry-After when the budget is spent. who says whose budget it
// is, for the message.
func (rl *rateLimits) take(w http.ResponseWriter, r *http.Request, b budget, key string, rule ratelimit.Rule, who string) error {
	if rule.Off() {
		return nil
	}
	d, err := rl.lim.Take(r.Context(), string(b)+"|"+key, rule)
	if err != nil {
		return fmt.Errorf("rate limiter: %w", err)
	}
	if d.Limit == 0 { // budget off
		return nil
	}
	h := w.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(d.Reset)))
	if d.Allowed {
		return nil
	}
	rl.m.RateLimited(string(b))
	return &frameforge.Error{Code: frameforge.ERateLimited, RetryAfter: max(d.RetryAfter, time.Second),
		Message: "Too many requests from " + who + ": the limit is " + strconv.Itoa(d.Limit) + " " + budgetNoun(b) +
			" per " + rule.PeriodName() + ". Try again in " + strconv.Itoa(ceilSeconds(d.RetryAfter)) + " s."}
}

// withRateLimit spends one request of the client's default budget on
// arrival.
func withRateLimit(log *slog.Logger, rl *rateLimits, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := rl.take(w, r, defaultBudget, clientKey(r, rl.trusted, rl.ipv6Prefix), rl.other, "this client"); err != nil {
			writeError(w, r, log, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func budgetNoun(b budget) string {
	if b == editBudget {
		return "edits"
	}
	return "requests"
}

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
