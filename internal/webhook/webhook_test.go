package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// verify checks a delivery the way the specification describes it,
// without the library the client signs with.
func verify(t *testing.T, key []byte, h http.Header, body []byte) {
	t.Helper()
	id, ts, sig := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if id == "" || sig != want {
		t.Errorf("webhook-signature = %q; want %q (id %q, timestamp %q)", sig, want, id, ts)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > time.Minute {
		t.Errorf("webhook-timestamp = %q; want the current Unix time", ts)
	}
}

func TestSendSignsTheDelivery(t *testing.T) {
	key := NewSecret()
	got := make(chan *http.Request, 1)
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ = io.ReadAll(r.Body)
		got <- r
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	c, err := New(Config{Secret: key, AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte(`{"type":"job.succeeded","timestamp":"2026-01-01T00:00:00Z","data":{}}`)
	if err := c.Send(context.Background(), srv.URL+"/hook", "msg_1", payload); err != nil {
		t.Fatalf("Send = %v; want nil", err)
	}
	r := <-got
	if r.Method != "POST" || r.Header.Get("Content-Type") != "application/json" || string(body) != string(payload) {
		t.Errorf("got %s %s with body %q; want POST application/json with the payload", r.Method, r.Header.Get("Content-Type"), body)
	}
	if r.Header.Get("webhook-id") != "msg_1" {
		t.Errorf("webhook-id = %q; want msg_1", r.Header.Get("webhook-id"))
	}
	verify(t, key, r.Header, body)
}

func TestSendOutcomes(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status int
		want   func(error) bool
	}{
		{"2xx delivers", 202, func(err error) bool { return err == nil }},
		{"410 is gone", 410, func(err error) bool { return errors.Is(err, ErrGone) }},
		{"500 is retried", 500, func(err error) bool { var s *StatusError; return errors.As(err, &s) && s.Code == 500 }},
		{"a redirect is not followed", 302, func(err error) bool { var s *StatusError; return errors.As(err, &s) && s.Code == 302 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			followed := false
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/elsewhere" {
					followed = true
					return
				}
				if tt.status == 302 {
					http.Redirect(w, r, "/elsewhere", 302)
					return
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(strings.Repeat("x", 1<<20))) // more than is read
			}))
			defer srv.Close()
			c, _ := New(Config{Secret: NewSecret(), AllowPrivate: true})
			err := c.Send(context.Background(), srv.URL, "msg_1", []byte(`{}`))
			if !tt.want(err) || followed {
				t.Errorf("Send = %v (redirect followed: %v)", err, followed)
			}
		})
	}
}

func TestSendTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	c, _ := New(Config{Secret: NewSecret(), AllowPrivate: true, Timeout: 100 * time.Millisecond})
	start := time.Now()
	err := c.Send(context.Background(), srv.URL, "msg_1", []byte(`{}`))
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("Send to a hanging receiver = %v after %v; want an error after ~100ms", err, time.Since(start))
	}
}

// The connect-time check: whatever a name resolved to before, the address
// being dialled is checked (DNS rebinding).
func TestSendRefusesPrivateAddressesAtConnect(t *testing.T) {
	hit := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit = true }))
	defer srv.Close()
	c, _ := New(Config{Secret: NewSecret()})
	for _, target := range []string{srv.URL, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)} {
		err := c.Send(context.Background(), target, "msg_1", []byte(`{}`))
		var b *BlockedError
		if !errors.As(err, &b) || hit {
			t.Errorf("Send(%s) = %v (reached: %v); want a BlockedError", target, err, hit)
		}
	}
}

func TestBlocked(t *testing.T) {
	for _, tt := range []struct {
		ip      string
		blocked bool
	}{
		{"127.0.0.1", true},
		{"127.8.9.10", true},
		{"10.1.2.3", true},
		{"172.16.0.1", true},
		{"172.31.255.255", true},
		{"192.168.1.1", true},
		{"169.254.169.254", true},
		{"169.254.1.1", true},
		{"100.64.0.1", true},
		{"100.127.255.254", true},
		{"0.0.0.0", true},
		{"224.0.0.1", true},
		{"255.255.255.255", true},
		{"::1", true},
		{"::", true},
		{"fc00::1", true},
		{"fd12:3456::1", true},
		{"fd00:ec2::254", true},
		{"fe80::1", true},
		{"ff02::1", true},
		{"::ffff:127.0.0.1", true},
		{"::ffff:10.0.0.1", true},
		{"64:ff9b::a00:1", true},
		{"8.8.8.8", false},
		{"1.1.1.1", false},
		{"172.32.0.1", false},
		{"100.128.0.1", false},
		{"2606:4700:4700::1111", false},
		{"2001:4860:4860::8888", false},
	} {
		if got := Blocked(net.ParseIP(tt.ip)); got != tt.blocked {
			t.Errorf("Blocked(%s) = %v; want %v", tt.ip, got, tt.blocked)
		}
	}
}

func TestCheckURL(t *testing.T) {
	strict, _ := New(Config{Secret: NewSecret()})
	open, _ := New(Config{Secret: NewSecret(), AllowPrivate: true})
	for _, tt := range []struct {
		c    *Client
		url  string
		ok   bool
		form bool
	}{
		{strict, "https://93.184.215.14/hook", true, false},
		{strict, "https://[2606:4700:4700::1111]/hook", true, false},
		{strict, "http://93.184.215.14/hook", false, true},
		{strict, "ftp://x/hook", false, true},
		{strict, "https://user:pw@93.184.215.14/hook", false, true},
		{strict, "/relative", false, true},
		{strict, "https://127.0.0.1/hook", false, false},
		{strict, "https://10.0.0.7:8443/hook", false, false},
		{strict, "https://172.16.3.4/hook", false, false},
		{strict, "https://192.168.0.10/hook", false, false},
		{strict, "https://169.254.169.254/latest/meta-data/", false, false},
		{strict, "https://[::1]/hook", false, false},
		{strict, "https://[fd00:ec2::254]/hook", false, false},
		{strict, "https://[fc00::5]/hook", false, false},
		{strict, "https://100.64.1.1/hook", false, false},
		{strict, "https://localhost/hook", false, false}, // resolves to loopback
		{open, "http://127.0.0.1:8080/hook", true, false},
		{open, "ftp://127.0.0.1/hook", false, true},
	} {
		_, err := tt.c.CheckURL(context.Background(), tt.url)
		if (err == nil) != tt.ok || (err != nil && IsFormError(err) != tt.form) {
			t.Errorf("CheckURL(%q, allow private %v) = %v; want ok %v, form error %v", tt.url, tt.c.cfg.AllowPrivate, err, tt.ok, tt.form)
		}
	}
}

func TestLoadSecret(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadSecret("", dir)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := LoadSecret("", dir)
	if len(a) != 32 || string(a) != string(b) {
		t.Errorf("generated secret: %d bytes, stable %v; want 32 and stable", len(a), string(a) == string(b))
	}
	set := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	k, err := LoadSecret(set, dir)
	if err != nil || FormatSecret(k) != set {
		t.Errorf("LoadSecret(%q) = %x, %v; want it back", set, k, err)
	}
	for _, bad := range []string{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_short", "whsec_not base64!"} {
		if _, err := LoadSecret(bad, dir); err == nil {
			t.Errorf("LoadSecret(%q) = nil error; want refused", bad)
		}
	}
}
