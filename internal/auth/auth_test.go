package auth_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"frameforge"
	"frameforge/internal/auth"
	"frameforge/internal/jobs"
	"frameforge/internal/pgtest"
)

// The table of modes × addresses × server keys: auto is required only when
// the server is reachable from outside and holds a key of its own.
func TestResolveMode(t *testing.T) {
	hosts := map[string]bool{ // host → loopback
		"127.0.0.1": true, "127.8.9.10": true, "::1": true, "[::1]": true, "localhost": true, "LOCALHOST": true,
		"0.0.0.0": false, "::": false, "": false, "192.168.1.20": false, "10.0.0.5": false, "2001:db8::1": false,
		"example.com": false, "frameforge.internal": false, "::ffff:127.0.0.1": true,
	}
	for _, setting := range []auth.Mode{auth.Off, auth.Required, auth.Auto} {
		for host, loop := range hosts {
			for _, key := range []bool{false, true} {
				want := setting
				if setting == auth.Auto {
					want = auth.Off
					if !loop && key {
						want = auth.Required
					}
				}
				got, why := auth.Resolve(setting, host, key)
				if got != want || why == "" {
					t.Errorf("Resolve(%s, %q, key %v) = %s (%q); want %s with a reason", setting, host, key, got, why, want)
				}
			}
		}
	}
}

func TestFromHeaders(t *testing.T) {
	tests := []struct {
		name string
		h    map[string]string
		want string
	}{
		{"bearer token", map[string]string{"Authorization": "Bearer ff_abc"}, "ff_abc"},
		{"bearer any case", map[string]string{"Authorization": "bearer  ff_abc "}, "ff_abc"},
		{"bearer fal key is not ours", map[string]string{"Authorization": "Bearer id:secret"}, ""},
		{"Key scheme is fal's", map[string]string{"Authorization": "Key ff_abc"}, ""},
		{"X-API-Key", map[string]string{"X-API-Key": "ff_xyz"}, "ff_xyz"},
		{"X-API-Key without prefix is still checked", map[string]string{"X-API-Key": "garbage"}, "garbage"},
		{"X-API-Key wins", map[string]string{"X-API-Key": "ff_1", "Authorization": "Bearer ff_2"}, "ff_1"},
		{"none", map[string]string{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := auth.FromHeaders(func(k string) string { return tt.h[k] }); got != tt.want {
				t.Errorf("FromHeaders(%v) = %q; want %q", tt.h, got, tt.want)
			}
		})
	}
}

// forEachStore runs f on a fresh store on SQLite, and on PostgreSQL when
// the test database is configured. The store reads its time from clock.
func forEachStore(t *testing.T, clock func() time.Time, f func(t *testing.T, s *auth.Store)) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			url := ""
			if kind == "postgres" {
				url = pgtest.FreshSchema(t)
			}
			db, k, err := jobs.OpenDB(t.Context(), url, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			s, err := auth.Open(t.Context(), db, k, auth.WithClock(clock))
			if err != nil {
				t.Fatal(err)
			}
			f(t, s)
		})
	}
}

func TestTokenLifecycle(t *testing.T) {
	forEachStore(t, time.Now, func(t *testing.T, s *auth.Store) {
		ctx := t.Context()
		tok, secret, err := s.Create(ctx, auth.NewToken{Name: "app", Quota: auth.NoQuota})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, "ff_") || len(secret) != 46 || strings.ContainsAny(secret[3:], "+/=-_") {
			t.Errorf("secret %q: want ff_ and 43 base62 digits", secret)
		}
		got, err := s.Authenticate(ctx, secret)
		if err != nil || got.ID != tok.ID {
			t.Fatalf("Authenticate = %+v, %v", got, err)
		}
		flipped := secret[:10] + string(secret[10]^1) + secret[11:]
		if _, err := s.Authenticate(ctx, flipped); frameforge.ErrorCode(err) != frameforge.EUnauthorized {
			t.Errorf("a changed token = %v; want unauthorized", err)
		}
		if err := s.Revoke(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, secret); !strings.Contains(frameforge.ErrorMessage(err), "revoked") {
			t.Errorf("a revoked token = %v; want revoked", err)
		}
		if err := s.Revoke(ctx, "tok_nope"); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("revoking an unknown id = %v; want ErrNotFound", err)
		}
		list, err := s.List(ctx)
		if err != nil || len(list) != 1 || list[0].Revoked.IsZero() {
			t.Errorf("List = %+v, %v", list, err)
		}
	})
}

// Many goroutines reserve against one quota: exactly as many as fit get a
// unit, and settling gives back exactly what was not kept.
func TestReserveIsAtomic(t *testing.T) {
	forEachStore(t, time.Now, func(t *testing.T, s *auth.Store) {
		ctx := context.Background()
		const quota, workers = 17, 60
		tok, _, err := s.Create(ctx, auth.NewToken{Name: "busy", Quota: quota})
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var holds []auth.Hold
		refused := 0
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				h, _, err := s.Reserve(ctx, tok, 1)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					holds = append(holds, h)
				case frameforge.ErrorCode(err) == frameforge.EQuotaExceeded:
					refused++
				default:
					t.Errorf("Reserve: %v", err)
				}
			})
		}
		wg.Wait()
		if len(holds) != quota || refused != workers-quota {
			t.Fatalf("%d reservations against a quota of %d: %d held, %d refused; want %d and %d", workers, quota, len(holds), refused, quota, workers-quota)
		}
		// Settle concurrently: 5 kept as successes, the rest given back.
		for i, h := range holds {
			wg.Go(func() {
				kept := 0
				if i < 5 {
					kept = 1
				}
				if err := s.Settle(ctx, string(h), kept, "google"); err != nil {
					t.Errorf("Settle: %v", err)
				}
			})
		}
		wg.Wait()
		u, err := s.Usage(ctx, tok)
		if err != nil || u.Used != 5 || u.ByProvider["google"] != 5 {
			t.Errorf("usage after settling = %+v, %v; want used 5, google 5", u, err)
		}
		if _, _, err := s.Reserve(ctx, tok, quota-5+1); frameforge.ErrorCode(err) != frameforge.EQuotaExceeded {
			t.Errorf("reserving one more than is left = %v; want quota_exceeded", err)
		}
		if _, left, err := s.Reserve(ctx, tok, quota-5); err != nil || left != 0 {
			t.Errorf("reserving exactly what is left = %d, %v; want 0 left", left, err)
		}
	})
}

// A hold belongs to the period it was reserved in: an edit that starts
// before midnight on the last day of a period and ends after it settles
// there, and the new period starts empty.
func TestHoldSettlesInItsOwnPeriod(t *testing.T) {
	var mu sync.Mutex
	var now time.Time // set for each store
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	forEachStore(t, clock, func(t *testing.T, s *auth.Store) {
		mu.Lock()
		now = time.Date(2026, 11, 30, 23, 59, 0, 0, time.UTC)
		mu.Unlock()
		ctx := t.Context()
		tok, _, err := s.Create(ctx, auth.NewToken{Name: "night", Quota: 2})
		if err != nil {
			t.Fatal(err)
		}
		old, _, err := s.Reserve(ctx, tok, 2)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		now = now.Add(2 * time.Minute) // 1 December, 00:01
		mu.Unlock()
		u, err := s.Usage(ctx, tok)
		if err != nil || u.Used != 0 || !u.Start.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("December's usage while November's hold runs = %+v, %v; want used 0 from 1 December", u, err)
		}
		fresh, left, err := s.Reserve(ctx, tok, 2)
		if err != nil || left != 0 {
			t.Fatalf("a new period's reservation = %d left, %v; want the whole quota", left, err)
		}
		if err := s.Settle(ctx, string(old), 1, "google"); err != nil {
			t.Fatal(err)
		}
		if err := s.Settle(ctx, string(fresh), 2, "fal"); err != nil {
			t.Fatal(err)
		}
		if u, err := s.Usage(ctx, tok); err != nil || u.Used != 2 || len(u.ByProvider) != 1 || u.ByProvider["fal"] != 2 {
			t.Errorf("December's usage = %+v, %v; want used 2, fal 2 only", u, err)
		}
	})
}
