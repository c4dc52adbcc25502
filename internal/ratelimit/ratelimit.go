// Package ratelimit keeps one token bucket per client (golang.org/x/time/rate)
// and answers whether a request may pass, with what the standard RateLimit
// headers need. Buckets of idle clients are reclaimed.
package ratelimit

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Rule is a budget: Limit requests per Period, with bursts up to Limit.
// The zero Rule means no limit.
type Rule struct {
	Limit  int
	Period time.Duration
}

// Off reports whether the rule limits nothing.
func (r Rule) Off() bool { return r.Limit == 0 }

func (r Rule) String() string {
	if r.Off() {
		return "off"
	}
	return fmt.Sprintf("%d/%s", r.Limit, r.Period)
}

// ParseRule reads "100/h", "3/m", "10/s", "1000/d", "5/30s" or "off".
func ParseRule(s string) (Rule, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "off" || s == "none" || s == "0" {
		return Rule{}, nil
	}
	n, per, ok := strings.Cut(s, "/")
	limit, err := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err != nil || limit <= 0 {
		return Rule{}, fmt.Errorf("want N/period such as 100/h, 3/m or off, got %q", s)
	}
	var period time.Duration
	switch per = strings.TrimSpace(per); per {
	case "s", "sec", "second":
		period = time.Second
	case "m", "min", "minute":
		period = time.Minute
	case "h", "hour":
		period = time.Hour
	case "d", "day":
		period = 24 * time.Hour
	default:
		if period, err = time.ParseDuration(per); err != nil || period <= 0 {
			return Rule{}, fmt.Errorf("unknown period %q: use s, m, h, d or a Go duration", per)
		}
	}
	return Rule{Limit: limit, Period: period}, nil
}

// Decision is the outcome of one Take.
type Decision struct {
	Allowed    bool
	Limit      int           // the budget (RateLimit-Limit)
	Remaining  int           // requests left right now (RateLimit-Remaining)
	Reset      time.Duration // until the bucket is full again (RateLimit-Reset)
	RetryAfter time.Duration // when refused: until one request is allowed
}

// Limiter holds one bucket per client key. It is safe for concurrent use.
type Limiter struct {
	rule      Rule
	now       func() time.Time
	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
	lastSweep time.Time
}

// New returns a limiter for rule. now is the clock (time.Now in production).
func New(rule Rule, now func() time.Time) *Limiter {
	return &Limiter{rule: rule, now: now, buckets: map[string]*rate.Limiter{}, lastSweep: now()}
}

// Take spends one request of key's budget if there is one.
func (l *Limiter) Take(key string) Decision {
	if l.rule.Off() {
		return Decision{Allowed: true}
	}
	now := l.now()
	every := rate.Every(l.rule.Period / time.Duration(l.rule.Limit))
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweepLocked(now)
	b, ok := l.buckets[key]
	if !ok {
		b = rate.NewLimiter(every, l.rule.Limit)
		l.buckets[key] = b
	}
	d := Decision{Limit: l.rule.Limit, Allowed: b.AllowN(now, 1)}
	tokens := b.TokensAt(now)
	d.Remaining = max(0, int(math.Floor(tokens)))
	perToken := l.rule.Period / time.Duration(l.rule.Limit)
	d.Reset = time.Duration((float64(l.rule.Limit) - tokens) * float64(perToken))
	if !d.Allowed {
		d.RetryAfter = time.Duration((1 - tokens) * float64(perToken))
	}
	return d
}

// Len is the number of clients with a bucket (for tests and metrics).
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// sweepLocked drops buckets that have refilled completely: such a client is
// indistinguishable from a new one, so forgetting it loses nothing. It runs
// at most once per period (or per minute for long periods), so its cost is
// spread thin however many clients there are.
func (l *Limiter) sweepLocked(now time.Time) {
	interval := min(l.rule.Period, time.Minute)
	if now.Sub(l.lastSweep) < interval {
		return
	}
	l.lastSweep = now
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.rule.Limit) {
			delete(l.buckets, k)
		}
	}
}

// Rule returns the limiter's rule.
func (l *Limiter) Rule() Rule { return l.rule }

// PeriodName is the period in words for messages: "minute", "hour", "30s".
func (r Rule) PeriodName() string {
	switch r.Period {
	case time.Second:
		return "second"
	case time.Minute:
		return "minute"
	case time.Hour:
		return "hour"
	case 24 * time.Hour:
		return "day"
	}
	return r.Period.String()
}
