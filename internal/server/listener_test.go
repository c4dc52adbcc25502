package server

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"frameforge/internal/provider"
)

// TestNetHTTPErrorsAreJSON sends requests that net/http refuses before any
// handler runs, through a real server on the wrapped listener, and checks
// each answer is a JSON error with its status; a normal request passes.
func TestNetHTTPErrorsAreJSON(t *testing.T) {
	h, _ := newTestServer(t, newTestConfig(), provider.Entry{}, provider.Entry{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, MaxHeaderBytes: 4 << 10}
	go srv.Serve(JSONErrors(ln))
	defer srv.Close()

	tests := []struct {
		name, raw  string
		status     int
		code, text string
	}{
		{"headers too large", "GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 16<<10) + "\r\n\r\n",
			431, "headers_too_large", "headers are too large"},
		{"garbage", "THIS IS NOT HTTP\r\n\r\n", 400, "invalid_request", "not valid HTTP"},
		{"no Host", "GET /api/health HTTP/1.1\r\n\r\n", 400, "invalid_request", "Host header"},
		{"unknown transfer encoding", "POST /api/edit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: rot13\r\n\r\n",
			501, "not_implemented", "Transfer-Encoding"},
		{"unknown expectation", "POST /api/edit HTTP/1.1\r\nHost: x\r\nExpect: coffee\r\nContent-Length: 3\r\n\r\nabc",
			417, "expectation_failed", "100-continue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := rawRequest(t, ln.Addr().String(), tt.raw)
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var e errorBody
			if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != tt.status || e.Code != tt.code ||
				!strings.Contains(e.Detail, tt.text) || e.RequestID == "" || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("%d %q (%s); want %d %s mentioning %q", resp.StatusCode, body, resp.Header.Get("Content-Type"), tt.status, tt.code, tt.text)
			}
		})
	}
	resp := rawRequest(t, ln.Addr().String(), "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != `{"status":"ok"}` {
		t.Errorf("health through the wrapped listener = %d %q", resp.StatusCode, body)
	}
}

func rawRequest(t *testing.T, addr, raw string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	return resp
}
