package upstream

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestClientFollowsNoRedirectAndBoundsBodies(t *testing.T) {
	var elsewhere int
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere++ }))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, other.URL, http.StatusTemporaryRedirect)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, strings.Repeat("x", 1<<20))
	}))
	defer srv.Close()
	hc := srv.Client()
	c := Client(hc, 1<<20, 1<<10)
	if hc.CheckRedirect != nil {
		t.Error("the caller's client was changed")
	}
	resp, err := c.Post(srv.URL+"/redirect", "text/plain", strings.NewReader("photo"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || elsewhere != 0 {
		t.Errorf("redirect = %d, %d requests elsewhere; want the 307 itself and none", resp.StatusCode, elsewhere)
	}
	resp, err = c.Get(srv.URL + "/error")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil || n > 1<<10 {
		t.Errorf("error body: read %d bytes, err %v; want at most 1 KiB and an error", n, err)
	}
}

func TestBackoff(t *testing.T) {
	if d := Backoff(1, time.Second, 20*time.Second, 7*time.Second); d != 7*time.Second {
		t.Errorf("with a hint = %s; want the hint", d)
	}
	for attempt, ceil := range map[int]time.Duration{1: time.Second, 3: 4 * time.Second, 10: 20 * time.Second, 80: 20 * time.Second} {
		for range 50 {
			if d := Backoff(attempt, time.Second, 20*time.Second, 0); d < 0 || d >= ceil {
				t.Fatalf("Backoff(%d) = %s; want in [0, %s)", attempt, d, ceil)
			}
		}
	}
}

func TestSleepEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); err != context.Canceled {
		t.Errorf("Sleep on an ended context = %v; want context.Canceled", err)
	}
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("Sleep = %v", err)
	}
}

func TestIsBaseURL(t *testing.T) {
	for s, want := range map[string]bool{
		"https://api.example.com/v1/": true, "http://127.0.0.1:8080": true,
		"ftp://x": false, "api.example.com": false, "https://u:p@x.com/": false, "https://x.com/?a=1": false,
		"https://x.com/#f": false, "https://": false,
	} {
		if got := IsBaseURL(s); got != want {
			t.Errorf("IsBaseURL(%q) = %v; want %v", s, got, want)
		}
	}
}

func TestFailureRedactsAndBoundsTheCause(t *testing.T) {
	key := "AIzaSECRET-0123456789"
	body := "bad key " + key + ": " + strings.Repeat("é", 400)
	err := Failure("gemini", "upstream_error", "Gemini failed.", errors.New(body), key)
	text := err.Err.Error()
	if strings.Contains(text, key) || !strings.HasPrefix(text, "gemini: ") {
		t.Errorf("cause = %q; want the provider's prefix and no key", text)
	}
	if len(text) > maxCauseLen+40 || !utf8.ValidString(text) {
		t.Errorf("cause is %d bytes (valid UTF-8: %v); want it cut near %d on a rune boundary", len(text), utf8.ValidString(text), maxCauseLen)
	}
	if Failure("fal", "c", "m", nil, key).Err != nil {
		t.Error("no cause given, yet Err is set")
	}
}
