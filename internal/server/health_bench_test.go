package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"frameforge/internal/logging"
	"frameforge/internal/provider"
)

// The fast-path benchmarks compare GET /api/health through the whole
// middleware stack (request id, access log, metrics, recover, CORS, route
// policy: compression and the deadline) with the bare handler bench/echo
// serves, in process, so only the stack's own cost shows
// (docs/performance.md, "The fast path"). The access log goes to a real
// file, as the server's stdout does in production.

func benchHealth(b *testing.B, h http.Handler) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest(http.MethodGet, "/api/health", nil)
		r.RemoteAddr = "127.0.0.1:40000"
		r.Header.Set("Accept-Encoding", "gzip") // as hey and browsers send
		for pb.Next() {
			w := &discardWriter{h: http.Header{}}
			h.ServeHTTP(w, r)
			if w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
		}
	})
}

// BenchmarkHealthStack is the real server's handler.
func BenchmarkHealthStack(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "access.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	out := logging.NewWriter(f) // as cmd/frameforge writes its log
	defer out.Close()
	log := logging.New(out, "json", slog.LevelInfo)
	benchHealth(b, newHandler(log, newTestConfig(), registry(provider.Entry{}, provider.Entry{}), nil))
}

// BenchmarkHealthBare is bench/echo's health handler on a plain mux.
func BenchmarkHealthBare(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`)
	})
	benchHealth(b, mux)
}
