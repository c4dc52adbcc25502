// Package ratelimit keeps one token bucket per client (golang.org/x/time/rate)
// and answers whether a request may pass, with what the standard RateLimit
// headers need. Buckets of idle clients are reclaimed, and the number of
// buckets is bounded however many clients come.
package ratelimit

import (
	"container/heap"
	"context"
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

// DefaultMaxClients is how many buckets a Limiter keeps unless told
// otherwise: a few tens of MB at most, far more clients than one instance
// serves within a period.
const DefaultMaxClients = 100_000

// reclaimPerTake is how many refilled buckets one Take may drop. More than
// one, so reclaiming outpaces the at most one bucket a Take adds; small, so
// no Take pays for a sweep of the whole table.
const reclaimPerTake = 4

// Limiter holds one bucket per client key, at most MaxClients of them. It is
// safe for concurrent use.
//
// Buckets are ordered by the time they will be full again. A bucket past
// that time is indistinguishable from a new one, so dropping it loses
// nothing: each Take drops a few such buckets from the front of the order,
// which keeps the table near the number of clients active within a period
// at constant cost per Take. When the table is full all the same (a flood
// of distinct keys), a new key evicts the bucket nearest to full: its client
// gains back the fewest requests. Least-recently-used order would not do:
// a flood of fresh keys, each one request in, would push out a client that
// emptied its bucket a while ago, the bucket that matters most. Here the
// flood evicts its own nearly full buckets, and a drained bucket goes only
// when every other bucket in the table is as drained, which costs the flood
// as many requests as the buckets it holds.
type Limiter struct {
	rule     Rule
	now      func() time.Time
	max      int
	mu       sync.Mutex
	buckets  map[string]*bucket
	byFullAt fullAtHeap
}

// Option adjusts a Limiter made by New.
type Option func(*Limiter)

// WithMaxClients bounds the number of buckets kept; n < 1 means
// DefaultMaxClients.
func WithMaxClients(n int) Option {
	return func(l *Limiter) {
		if n >= 1 {
			l.max = n
		}
	}
}

// New returns a limiter for rule. now is the clock (time.Now in production).
func New(rule Rule, now func() time.Time, opts ...Option) *Limiter {
	l := &Limiter{rule: rule, now: now, max: DefaultMaxClients, buckets: map[string]*bucket{}}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Take spends one request of key's budget if there is one.
func (l *Limiter) Take(key string) Decision {
	if l.rule.Off() {
		return Decision{Allowed: true}
	}
	now := l.now()
	perToken := l.rule.Period / time.Duration(l.rule.Limit)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reclaimLocked(now)
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.max {
			l.removeLocked(l.byFullAt[0])
		}
		b = &bucket{key: key, lim: rate.NewLimiter(rate.Every(perToken), l.rule.Limit)}
		l.buckets[key] = b
		heap.Push(&l.byFullAt, b)
	}
	d := Decision{Limit: l.rule.Limit, Allowed: b.lim.AllowN(now, 1)}
	tokens := b.lim.TokensAt(now)
	d.Remaining = max(0, int(math.Floor(tokens)))
	d.Reset = time.Duration((float64(l.rule.Limit) - tokens) * float64(perToken))
	if !d.Allowed {
		d.RetryAfter = time.Duration((1 - tokens) * float64(perToken))
	}
	// A refused request spends nothing, so the time only ever moves later
	// and the fix is a sift down.
	b.fullAt = now.Add(d.Reset)
	heap.Fix(&l.byFullAt, b.index)
	return d
}

// Len is the number of clients with a bucket (for tests and metrics).
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// MaxClients is the most buckets the limiter keeps.
func (l *Limiter) MaxClients() int { return l.max }

// reclaimLocked drops up to reclaimPerTake buckets that have refilled.
func (l *Limiter) reclaimLocked(now time.Time) {
	for range reclaimPerTake {
		if len(l.byFullAt) == 0 || l.byFullAt[0].fullAt.After(now) {
			return
		}
		l.removeLocked(l.byFullAt[0])
	}
}

func (l *Limiter) removeLocked(b *bucket) {
	heap.Remove(&l.byFullAt, b.index)
	delete(l.buckets, b.key)
}

// bucket is one client's token bucket and its place in the eviction order.
type bucket struct {
	key    string
	lim    *rate.Limiter
	fullAt time.Time // when the bucket is full again
	index  int       // in the heap
}

// fullAtHeap is a min-heap of buckets by fullAt (container/heap).
type fullAtHeap []*bucket

func (h fullAtHeap) Len() int           { return len(h) }
func (h fullAtHeap) Less(i, j int) bool { return h[i].fullAt.Before(h[j].fullAt) }
func (h fullAtHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *fullAtHeap) Push(x any) {
	b := x.(*bucket)
	b.index = len(*h)
	*h = append(*h, b)
}
func (h *fullAtHeap) Pop() any {
	old := *h
	b := old[len(old)-1]
	old[len(old)-1] = nil // let the evicted bucket be collected
	*h = old[:len(old)-1]
	return b
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

// Local is a Limiter seen through the interface shared limiters have
// (redislimit): a context and an error, which a local Take never needs.
type Local struct{ *Limiter }

// Take spends one request of key's budget; it never fails.
func (l Local) Take(_ context.Context, key string) (Decision, error) { return l.Limiter.Take(key), nil }
