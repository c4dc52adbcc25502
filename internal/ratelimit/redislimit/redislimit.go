// Package redislimit keeps rate-limit budgets in Redis (or Valkey), so that
// several replicas spend one budget together: 6 edits a minute means 6 across
// all of them, not 6 each. The algorithm is GCRA from a maintained library
// (github.com/go-redis/redis_rate), run as one Lua script on the server with
// the server's clock, so replicas need no synchronised clocks.
//
// When Redis cannot answer, a Budget applies the group's Failure policy
// (REDIS_FAILURE; see docs/scaling.md), counts it in a metric and says so
// in the log, at most every 30 s.
package redislimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"frameforge"
	"frameforge/internal/ratelimit"
)

// Failure is what a budget does while Redis cannot answer.
type Failure string

// The failure policies.
const (
	// FailLocal falls back to this replica's own in-process buckets: each
	// replica keeps the limit by itself, so N replicas let through up to N
	// times the budget until Redis is back. The default: the service stays
	// up and abuse stays bounded.
	FailLocal Failure = "local"
	// FailOpen lets every request through (no limit at all meanwhile).
	FailOpen Failure = "open"
	// FailClosed refuses every limited request with 503
	// rate_limit_unavailable: the budget is never exceeded, and nothing
	// limited is served until Redis is back.
	FailClosed Failure = "closed"
)

// ParseFailure reads "local", "open" or "closed".
func ParseFailure(s string) (Failure, error) {
	switch f := Failure(strings.ToLower(strings.TrimSpace(s))); f {
	case FailLocal, FailOpen, FailClosed:
		return f, nil
	}
	return "", fmt.Errorf("want local, open or closed, got %q", s)
}

// Effect says in words what the policy does, for the start-up log and the
// failure warnings.
func (f Failure) Effect() string {
	switch f {
	case FailOpen:
		return "requests are not rate-limited at all while Redis is unreachable"
	case FailClosed:
		return "rate-limited requests are refused with 503 rate_limit_unavailable while Redis is unreachable"
	}
	return "each replica limits by itself while Redis is unreachable (N replicas let through up to N times the budget)"
}

// Timing of calls to Redis. A limit check is one round trip on a local
// network (well under a millisecond); a server that takes longer than
// callTimeout is treated as down. After a failure, Redis is not asked again
// for holdOff, so a dead server costs one timeout per replica per second,
// not one per request.
const (
	callTimeout = 250 * time.Millisecond
	dialTimeout = time.Second
	holdOff     = time.Second
	warnEvery   = 30 * time.Second
)

// ParseURL reads a redis://, rediss://, valkey:// or valkeys:// URL (the
// valkey schemes are the redis ones under another name).
func ParseURL(u string) (*redis.Options, error) {
	switch {
	case strings.HasPrefix(u, "valkey://"):
		u = "redis://" + strings.TrimPrefix(u, "valkey://")
	case strings.HasPrefix(u, "valkeys://"):
		u = "rediss://" + strings.TrimPrefix(u, "valkeys://")
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		// go-redis's messages name the problem, never the password.
		return nil, fmt.Errorf("want redis://[user:password@]host:port[/db] (or rediss://, valkey://): %w", err)
	}
	return opt, nil
}

// Group is one Redis connection pool and its failure policy, shared by the
// budgets made from it. It is safe for concurrent use.
type Group struct {
	rdb      *redis.Client
	lim      *redis_rate.Limiter
	failure  Failure
	prefix   string         // of every key in Redis
	local    *ratelimit.Set // FailLocal's fallback
	log      *slog.Logger
	now      func() time.Time
	failures *prometheus.CounterVec
	up       prometheus.GaugeFunc

	holdUntil atomic.Int64 // Unix ns: until then Redis is not asked
	down      atomic.Bool
	missed    atomic.Int64 // failures since the last warning
	warn      rate.Sometimes
}

// Open prepares a group for url. It does not connect: a replica starts
// while Redis is down, and the failure policy applies until it is up.
func Open(url string, failure Failure, log *slog.Logger, opts ...Option) (*Group, error) {
	opt, err := ParseURL(url)
	if err != nil {
		return nil, err
	}
	opt.DialTimeout = dialTimeout
	opt.ReadTimeout = callTimeout
	opt.WriteTimeout = callTimeout
	// A limit check spends a request: retrying one whose answer was lost
	// could spend it twice.
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	opt.ContextTimeoutEnabled = true
	rdb := redis.NewClient(opt)
	g := &Group{rdb: rdb, lim: redis_rate.NewLimiter(rdb), failure: failure, prefix: "frameforge:", log: log, now: time.Now,
		warn: rate.Sometimes{Interval: warnEvery}}
	for _, o := range opts {
		o(g)
	}
	if failure == FailLocal {
		g.local = ratelimit.NewSet(g.now)
	}
	g.warn.Do(func() {}) // the first warning of an outage is logged by fallback itself
	g.failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "frameforge_rate_limit_redis_failures_total",
		Help: "Rate-limit checks Redis could not answer, by the failure policy applied instead (REDIS_FAILURE).",
	}, []string{"policy"})
	g.up = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "frameforge_rate_limit_redis_up",
		Help: "1 while the shared rate limits in Redis answer, 0 after a failure until one succeeds again.",
	}, func() float64 {
		if g.down.Load() {
			return 0
		}
		return 1
	})
	return g, nil
}

// Option changes a Group.
type Option func(*Group)

// KeyPrefix puts the group's keys under prefix instead of "frameforge:"
// (tests sharing one Redis keep apart with it).
func KeyPrefix(prefix string) Option { return func(g *Group) { g.prefix = prefix } }

// Failure is the group's failure policy.
func (g *Group) Failure() Failure { return g.failure }

// Collectors are the group's metrics.
func (g *Group) Collectors() []prometheus.Collector { return []prometheus.Collector{g.failures, g.up} }

// Ping checks that Redis answers (for the start-up log).
func (g *Group) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	return g.rdb.Ping(ctx).Err()
}

// Logger routes go-redis's own messages (dial failures) to log at debug:
// the failure policy's warnings already tell the operator, once. go-redis
// has one logger per process, so run sets it (redis.SetLogger).
type Logger struct{ Log *slog.Logger }

// Printf logs one go-redis message.
func (l Logger) Printf(ctx context.Context, format string, v ...any) {
	l.Log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// Close closes the connection pool.
func (g *Group) Close() error { return g.rdb.Close() }

// errHeldOff is a check not sent because Redis failed a moment ago.
var errHeldOff = errors.New("redis failed less than a second ago")

// Take spends one request of key's budget under rule. key names its budget
// (the server prefixes it: "edit|…", "default|…"), so every replica's check
// of the same key spends the same bucket. While Redis cannot answer it
// applies the failure policy; only FailClosed returns an error, a
// frameforge.Error with code ERateLimitUnavail.
func (g *Group) Take(ctx context.Context, key string, rule ratelimit.Rule) (ratelimit.Decision, error) {
	if rule.Off() {
		return ratelimit.Decision{Allowed: true}, nil
	}
	if g.now().UnixNano() < g.holdUntil.Load() {
		return g.fallback(ctx, key, rule, errHeldOff)
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	res, err := g.lim.Allow(cctx, g.prefix+key, redis_rate.Limit{Rate: rule.Limit, Burst: rule.Limit, Period: rule.Period})
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return ratelimit.Decision{}, ctx.Err() // the client left: not Redis's fault
		}
		g.holdUntil.Store(g.now().Add(holdOff).UnixNano())
		return g.fallback(ctx, key, rule, err)
	}
	if g.down.CompareAndSwap(true, false) {
		g.log.InfoContext(ctx, "rate limits: Redis answers again; the shared budgets are in force")
	}
	d := ratelimit.Decision{Limit: rule.Limit, Allowed: res.Allowed > 0, Remaining: res.Remaining, Reset: res.ResetAfter}
	if !d.Allowed {
		d.RetryAfter = res.RetryAfter
	}
	return d, nil
}

// fallback applies the failure policy, counts it and logs it: the first
// failure of an outage at once, then at most every warnEvery with the number
// of checks it affected since.
func (g *Group) fallback(ctx context.Context, key string, rule ratelimit.Rule, cause error) (ratelimit.Decision, error) {
	g.failures.WithLabelValues(string(g.failure)).Inc()
	g.missed.Add(1)
	if g.down.CompareAndSwap(false, true) {
		g.missed.Store(0)
		g.log.WarnContext(ctx, "rate limits: Redis is unreachable; "+g.failure.Effect(),
			"redis_failure", string(g.failure), "err", cause)
	} else if !errors.Is(cause, errHeldOff) {
		g.warn.Do(func() {
			g.log.WarnContext(ctx, "rate limits: Redis is still unreachable; "+g.failure.Effect(),
				"redis_failure", string(g.failure), "checks_affected", g.missed.Swap(0), "err", cause)
		})
	}
	switch g.failure {
	case FailOpen:
		// Limit 0: no RateLimit-* headers, rather than made-up ones.
		return ratelimit.Decision{Allowed: true}, nil
	case FailClosed:
		return ratelimit.Decision{}, &frameforge.Error{Code: frameforge.ERateLimitUnavail, RetryAfter: time.Second,
			Message: "The rate limiter is unavailable, and this server refuses limited requests until it is back; try again shortly.",
			Err:     cause}
	}
	return g.local.Take(ctx, key, rule)
}
