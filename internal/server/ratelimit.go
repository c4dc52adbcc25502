package server

import (
	"context"
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

// Budget is one per-client rate budget. Take spends one request of key's
// budget; an error means the budget could not be consulted and the request
// is refused with it (a shared limiter whose store is down, under a policy
// that says so). The in-process limiter (ratelimit.Local) is the default;
// with REDIS_URL the budgets are shared by every replica (redislimit).
type Budget interface {
	Take(ctx context.Context, key string) (ratelimit.Decision, error)
	Rule() ratelimit.Rule
}

// Budgets makes the budget of a name ("edit", "default") and rule. Nil
// means in-process budgets.
type Budgets func(name string, rule ratelimit.Rule) Budget

// budget is a Budget with the name it is counted and told under.
type budget struct {
	name string
	Budget
}

// rateLimits are the two per-client budgets: edits, and everything else.
type rateLimits struct {
	edit, other budget
	trusted     []netip.Prefix
	ipv6Prefix  int
	m           *metrics.Metrics
}

func newRateLimits(cfg Config, newBudget Budgets, m *metrics.Metrics, now func() time.Time) *rateLimits {
	if newBudget == nil {
		newBudget = func(_ string, rule ratelimit.Rule) Budget { return ratelimit.Local{Limiter: ratelimit.New(rule, now)} }
	}
	return &rateLimits{
		edit:       budget{"edit", newBudget("edit", cfg.RateLimitEdit)},
		other:      budget{"default", newBudget("default", cfg.RateLimitDefault)},
		trusted:    cfg.TrustedProxies,
		ipv6Prefix: cfg.RateLimitIPv6Prefix,
		m:          m,
	}
}

// withRateLimit spends one request of the client's budget lim, sets the
// standard RateLimit-* headers on every limited response, and refuses with
// 429 and Retry-After when the budget is spent.
func withRateLimit(log *slog.Logger, rl *rateLimits, lim budget, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := lim.Take(r.Context(), clientKey(r, rl.trusted, rl.ipv6Prefix))
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		if d.Limit == 0 { // budget off
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
		h.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
		h.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(d.Reset)))
		if !d.Allowed {
			rl.m.RateLimited(lim.name)
			writeError(w, r, log, &frameforge.Error{Code: frameforge.ERateLimited, RetryAfter: max(d.RetryAfter, time.Second),
				Message: "Too many requests from this client: the limit is " + strconv.Itoa(d.Limit) + " " + budgetNoun(lim.name) +
					" per " + lim.Rule().PeriodName() + ". Try again in " + strconv.Itoa(ceilSeconds(d.RetryAfter)) + " s."})
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
