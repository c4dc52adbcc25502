package server

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"frameforge/internal/provider"
	"frameforge/internal/ratelimit"
	"frameforge/internal/ratelimit/redislimit"
	"frameforge/internal/redistest"
)

func TestRateLimitKeysIPv6ClientsOnTheirNetwork(t *testing.T) {
	tests := []struct {
		name        string
		prefix      int
		first       string // spends the budget; "" is 2001:db8:1:2::1
		second      string
		wantLimited bool
	}{
		{name: "same /64 by default", second: "[2001:db8:1:2:ffff::9]:1", wantLimited: true},
		{name: "another /64 by default", second: "[2001:db8:1:3::1]:1"},
		{name: "same /48 when configured", prefix: 48, second: "[2001:db8:1:ffff::1]:1", wantLimited: true},
		{name: "another /48 when configured", prefix: 48, second: "[2001:db8:2::1]:1"},
		{name: "every address its own at /128", prefix: 128, second: "[2001:db8:1:2::2]:1"},
		{name: "IPv4-mapped is the IPv4 client", first: "192.0.2.1:1", second: "[::ffff:192.0.2.1]:1", wantLimited: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := newTestConfig()
			cfg.RateLimitDefault = ratelimit.Rule{Limit: 1, Period: time.Minute}
			cfg.RateLimitIPv6Prefix = tt.prefix
			h, _ := newTestServer(t, cfg, provider.Entry{}, provider.Entry{})
			first := tt.first
			if first == "" {
				first = "[2001:db8:1:2::1]:1"
			}
			if w := serve(h, fromAddr(httptest.NewRequest("GET", "/api/providers", nil), first)); w.Code != 200 {
				t.Fatalf("first request = %d; want 200", w.Code)
			}
			w := serve(h, fromAddr(httptest.NewRequest("GET", "/api/providers", nil), tt.second))
			if got := w.Code == 429; got != tt.wantLimited {
				t.Errorf("request from %s after %s spent its budget = %d; want limited %v", tt.second, first, w.Code, tt.wantLimited)
			}
		})
	}
}

func TestRateLimitRotatingIPv6AddressesBehindAProxy(t *testing.T) {
	cfg := newTestConfig()
	cfg.RateLimitDefault = ratelimit.Rule{Limit: 5, Period: time.Minute}
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	h, _ := newTestServer(t, cfg, provider.Entry{}, provider.Entry{})
	ok := 0
	for i := range 1000 {
		r := fromAddr(httptest.NewRequest("GET", "/api/providers", nil), "10.0.0.1:5000")
		r.Header.Set("X-Forwarded-For", "2001:db8:77:1:"+strconv.FormatInt(int64(i), 16)+"::1")
		if serve(h, r).Code == 200 {
			ok++
		}
	}
	if ok != 5 {
		t.Errorf("1000 addresses of one /64 got %d requests through; want 5", ok)
	}
}

// The page and its files are free: loading the page many times from one
// office address must not spend the budget its edits and API calls need.
func TestRateLimitPageFilesSpendNoBudget(t *testing.T) {
	cfg := newTestConfig()
	cfg.RateLimitDefault = ratelimit.Rule{Limit: 2, Period: time.Hour}
	h, _ := newTestServer(t, cfg, provider.Entry{}, provider.Entry{})
	const addr = "192.0.2.7:1"
	for i := range 50 {
		for _, target := range []string{"/", "/assets/app.js", "/assets/app.css", "/assets/inter.woff2"} {
			if w := serve(h, fromAddr(httptest.NewRequest("GET", target, nil), addr)); w.Code != 200 {
				t.Fatalf("load %d: GET %s = %d; want 200", i, target, w.Code)
			}
		}
	}
	for i, want := range []int{200, 200, 429} {
		if w := serve(h, fromAddr(httptest.NewRequest("GET", "/api/providers", nil), addr)); w.Code != want {
			t.Errorf("API call %d after 50 page loads = %d; want %d", i+1, w.Code, want)
		}
	}
}

// With budgets shared through Redis, two servers (two replicas) spend one
// budget, and the answers carry the same RateLimit-* headers and 429 +
// Retry-After as with the in-process limiter.
func TestRateLimitSharedThroughRedis(t *testing.T) {
	url := redistest.URL(t)
	budgets := func() RateLimiter {
		log := slog.New(slog.DiscardHandler)
		// This test's own keys.
		g, err := redislimit.Open(url, redislimit.FailClosed, log, redislimit.KeyPrefix(redistest.Name("t")+":"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		return g
	}
	cfg := newTestConfig()
	cfg.RateLimitDefault = ratelimit.Rule{Limit: 3, Period: time.Minute}
	local, _ := newTestServer(t, cfg, provider.Entry{}, provider.Entry{})
	var shared []http.Handler
	bs := budgets()
	for range 2 {
		c := cfg
		c.RateLimiter = bs
		h, _ := newTestServer(t, c, provider.Entry{}, provider.Entry{})
		shared = append(shared, h)
	}
	for i := range 4 {
		want := serve(local, fromAddr(httptest.NewRequest("GET", "/api/providers", nil), "192.0.2.9:1"))
		got := serve(shared[i%2], fromAddr(httptest.NewRequest("GET", "/api/providers", nil), "192.0.2.9:1"))
		if got.Code != want.Code {
			t.Errorf("request %d: shared %d, in-process %d", i, got.Code, want.Code)
		}
		for _, h := range []string{"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After"} {
			if got.Header().Get(h) != want.Header().Get(h) {
				t.Errorf("request %d: %s shared %q, in-process %q", i, h, got.Header().Get(h), want.Header().Get(h))
			}
		}
		if i == 3 && (got.Code != 429 || decodeError(t, got).Code != "rate_limited") {
			t.Errorf("4th request over two replicas = %d; want 429 rate_limited", got.Code)
		}
	}
}

// REDIS_FAILURE=closed: a limited route answers 503 rate_limit_unavailable
// with Retry-After while Redis is down; probes are not limited and answer.
func TestRateLimitRedisDownClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "redis://" + ln.Addr().String()
	ln.Close()
	g, err := redislimit.Open(dead, redislimit.FailClosed, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	cfg := newTestConfig()
	cfg.RateLimitDefault = ratelimit.Rule{Limit: 3, Period: time.Minute}
	cfg.RateLimiter = g
	h, _ := newTestServer(t, cfg, provider.Entry{}, provider.Entry{})
	w := serve(h, fromAddr(httptest.NewRequest("GET", "/api/providers", nil), "192.0.2.9:1"))
	if w.Code != 503 || decodeError(t, w).Code != "rate_limit_unavailable" || w.Header().Get("Retry-After") == "" {
		t.Errorf("limited route with Redis down = %d %s; want 503 rate_limit_unavailable with Retry-After", w.Code, w.Body)
	}
	if w := serve(h, httptest.NewRequest("GET", "/api/health", nil)); w.Code != 200 {
		t.Errorf("health with Redis down = %d; want 200", w.Code)
	}
}
