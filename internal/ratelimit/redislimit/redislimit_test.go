package redislimit

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"frameforge"
	"frameforge/internal/logging/logtest"
	"frameforge/internal/ratelimit"
	"frameforge/internal/redistest"
)

// newLog is a logger whose output a test can read.
func newLog() (*slog.Logger, *logtest.Buffer) {
	var buf logtest.Buffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

func openGroup(t *testing.T, url string, f Failure) *Group {
	t.Helper()
	log, _ := newLog()
	g, err := Open(url, f, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// Three groups stand for three replicas: 6 a minute holds across all of
// them together, whoever receives the requests.
func TestBudgetIsSharedAcrossGroups(t *testing.T) {
	url := redistest.URL(t)
	rule := ratelimit.Rule{Limit: 6, Period: time.Minute}
	name := redistest.Name("edit")
	var budgets []budget
	for range 3 {
		budgets = append(budgets, budgetOf(openGroup(t, url, FailClosed), name, rule))
	}
	allowed := 0
	var last ratelimit.Decision
	for i := range 12 {
		d, err := budgets[i%3].Take(context.Background(), "203.0.113.7")
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed {
			allowed++
			if d.Remaining != 6-allowed {
				t.Errorf("take %d: remaining %d; want %d", i, d.Remaining, 6-allowed)
			}
		}
		last = d
	}
	if allowed != 6 {
		t.Errorf("12 requests over 3 replicas let %d through; want 6", allowed)
	}
	if last.Allowed || last.Limit != 6 || last.RetryAfter < 9*time.Second || last.RetryAfter > 10*time.Second ||
		last.Reset < 59*time.Second || last.Reset > time.Minute {
		t.Errorf("refused decision = %+v; want limit 6, retry in ~10 s, reset in ~60 s", last)
	}
	// Another client has its own budget.
	if d, _ := budgets[0].Take(context.Background(), "203.0.113.8"); !d.Allowed {
		t.Error("another client was refused")
	}
}

// Many replicas racing for the last units never let more through.
func TestBudgetHoldsUnderConcurrency(t *testing.T) {
	url := redistest.URL(t)
	rule := ratelimit.Rule{Limit: 6, Period: time.Minute}
	name := redistest.Name("edit")
	groups := []*Group{openGroup(t, url, FailClosed), openGroup(t, url, FailClosed), openGroup(t, url, FailClosed)}
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			d, err := budgetOf(groups[i%3], name, rule).Take(context.Background(), "client")
			if err != nil {
				t.Error(err)
				return
			}
			if d.Allowed {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if allowed != 6 {
		t.Errorf("60 concurrent requests let %d through; want 6", allowed)
	}
}

// deadURL is a Redis URL where nothing listens.
func deadURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "redis://" + addr + "/0"
}

func TestFailurePolicies(t *testing.T) {
	rule := ratelimit.Rule{Limit: 2, Period: time.Minute}
	for _, tt := range []struct {
		f           Failure
		wantAllowed int // of 5
		wantErr     bool
		wantHeaders bool
	}{
		{f: FailLocal, wantAllowed: 2, wantHeaders: true},
		{f: FailOpen, wantAllowed: 5},
		{f: FailClosed, wantErr: true},
	} {
		t.Run(string(tt.f), func(t *testing.T) {
			log, out := newLog()
			g, err := Open(deadURL(t), tt.f, log)
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			b := budgetOf(g, "edit", rule)
			allowed := 0
			for range 5 {
				d, err := b.Take(context.Background(), "client")
				if tt.wantErr {
					var fe *frameforge.Error
					if !errors.As(err, &fe) || fe.Code != frameforge.ERateLimitUnavail || fe.RetryAfter <= 0 {
						t.Fatalf("Take = %v; want rate_limit_unavailable with a retry hint", err)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if d.Allowed {
					allowed++
				}
				if got := d.Limit != 0; got != tt.wantHeaders {
					t.Errorf("decision %+v: limit set %v; want %v", d, got, tt.wantHeaders)
				}
			}
			if allowed != tt.wantAllowed {
				t.Errorf("%d of 5 allowed; want %d", allowed, tt.wantAllowed)
			}
			if got := testutil.ToFloat64(g.failures.WithLabelValues(string(tt.f))); got != 5 {
				t.Errorf("failures metric = %v; want 5", got)
			}
			if got := testutil.ToFloat64(g.up); got != 0 {
				t.Errorf("up = %v; want 0", got)
			}
			// One warning for the outage, not one per request.
			if n := strings.Count(out.String(), "level=WARN"); n != 1 {
				t.Errorf("%d warnings; want 1:\n%s", n, out.String())
			}
		})
	}
}

func TestParse(t *testing.T) {
	for _, u := range []string{"redis://127.0.0.1:6379/0", "rediss://u:p@h:6380", "valkey://h:6379", "valkeys://h"} {
		if _, err := ParseURL(u); err != nil {
			t.Errorf("ParseURL(%q) = %v", u, err)
		}
	}
	for _, u := range []string{"http://h", "redis://h:port", "h:6379"} {
		if _, err := ParseURL(u); err == nil {
			t.Errorf("ParseURL(%q) accepted", u)
		}
	}
	if _, err := ParseFailure("sideways"); err == nil {
		t.Error("ParseFailure accepted sideways")
	}
}

// The figure for docs/scaling.md: what a shared check costs per request
// against the in-process one (go test -bench Take ./internal/ratelimit/redislimit).
func BenchmarkTakeLocal(b *testing.B) {
	l := ratelimit.NewSet(time.Now)
	rule := ratelimit.Rule{Limit: 1 << 30, Period: time.Hour}
	for b.Loop() {
		_, _ = l.Take(context.Background(), "edit|client", rule)
	}
}

func BenchmarkTakeRedis(b *testing.B) {
	log, _ := newLog()
	g, err := Open(redistest.URL(b), FailClosed, log)
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	bud := budgetOf(g, redistest.Name("bench"), ratelimit.Rule{Limit: 1 << 30, Period: time.Hour})
	for b.Loop() {
		if _, err := bud.Take(context.Background(), "client"); err != nil {
			b.Fatal(err)
		}
	}
}

// budget is one named budget of a group, as the server uses it: the name
// leads the key.
type budget struct {
	g    *Group
	name string
	rule ratelimit.Rule
}

func budgetOf(g *Group, name string, rule ratelimit.Rule) budget { return budget{g, name, rule} }

func (b budget) Take(ctx context.Context, key string) (ratelimit.Decision, error) {
	return b.g.Take(ctx, b.name+"|"+key, b.rule)
}
