package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"frameforge"
	"frameforge/internal/metrics"
)

// requestState travels in the request context so that outer middleware (the
// access log) can learn what inner layers decided: the matched route and the
// keys to redact. The mux sets r.Pattern on its
// own copy of the request, which the outer layers never see.
type requestState struct {
	id      string
	route   string
	secrets []string // keys this request carries or uses: redacted from what is logged about it
}

type stateKey struct{}

func stateFrom(ctx context.Context) *requestState {
	s, _ := ctx.Value(stateKey{}).(*requestState)
	return s
}

func requestIDFrom(ctx context.Context) string {
	if s := stateFrom(ctx); s != nil {
		return s.id
	}
	return ""
}

// noteSecret adds a key to redact from every log line about the request.
func noteSecret(ctx context.Context, secret string) {
	if s := stateFrom(ctx); s != nil && secret != "" {
		s.secrets = append(s.secrets, secret)
	}
}

func secretsFrom(ctx context.Context) []string {
	if s := stateFrom(ctx); s != nil {
		return s.secrets
	}
	return nil
}

// withRequestID accepts a sane X-Request-ID from the client (so a request can
// be followed across a proxy) or makes one, and echoes it on the response.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The header's canonical key, read and written directly: Get and Set
		// canonicalise it on every request (docs/performance.md, "The fast
		// path"). On the wire it is the same header.
		var id string
		if v := r.Header["X-Request-Id"]; len(v) > 0 {
			id = v[0]
		}
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header()["X-Request-Id"] = []string{id}
		st := &requestState{id: id}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), stateKey{}, st)))
	})
}

// validRequestID allows only short, log-safe ids: a client must not be able
// to inject newlines or megabytes into our logs through this header.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// statusWriter records what a handler wrote, for the access log and the
// recoverer (which must not write a second header).
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (deadlines, flush).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// withObserve writes one access-log line per request (method, route, status,
// bytes, duration, request id) and records the request's metrics. The route
// is the matched pattern, so client-chosen paths cannot flood the log or the
// metrics with unique values.
func withObserve(log *slog.Logger, m *metrics.Metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w}
			next.ServeHTTP(sw, r)
			st := stateFrom(r.Context())
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			route, id := "", ""
			if st != nil {
				route, id = st.route, st.id
			}
			if route == "" {
				route = "unmatched"
			}
			end := time.Now()
			d := end.Sub(start)
			m.ObserveRequest(route, r.Method, status, r.ContentLength, sw.bytes, d)
			// The handler directly, with no caller: Logger.LogAttrs looks
			// up the calling function on every line, which the access log
			// never prints (docs/performance.md, "The fast path").
			h := log.Handler()
			if !h.Enabled(r.Context(), slog.LevelInfo) {
				return
			}
			rec := slog.NewRecord(end, slog.LevelInfo, "request", 0)
			rec.AddAttrs(
				slog.String("method", r.Method),
				slog.String("route", route),
				slog.Int("status", status),
				slog.Int64("bytes", sw.bytes),
				slog.Int64("bytes_in", max(r.ContentLength, 0)),
				slog.Duration("duration", d),
				slog.String("request_id", id),
			)
			_ = h.Handle(r.Context(), rec)
		})
	}
}

// withRecover turns a panic into a logged stack and a JSON 500, so one bad
// request never takes the process down. http.ErrAbortHandler is re-raised:
// it is the standard way to abort a response on purpose.
func withRecover(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Under withObserve the writer already records what was written.
			sw, ok := w.(*statusWriter)
			if !ok {
				sw = &statusWriter{ResponseWriter: w}
			}
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(r.Context(), "panic serving request",
					"request_id", requestIDFrom(r.Context()),
					"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if sw.status != 0 {
					// Headers are gone; the only honest thing left is to cut the connection.
					panic(http.ErrAbortHandler)
				}
				writeError(sw, r, log, frameforge.Errorf(frameforge.EInternal, "Internal error."))
			}()
			next.ServeHTTP(sw, r)
			if sw.status == 0 {
				// A handler that returns without writing would make net/http
				// send an empty 200, which a client takes for success.
				writeError(sw, r, log, frameforge.Errorf(frameforge.EInternal, "The server ended the request without an answer."))
			}
		})
	}
}

// routeRecorder registers handlers on a mux so that each notes the route it
// was matched by (r.Pattern, set by the mux on its copy of the request) for
// the access log, and so that withJSONFallbacks can tell the mux's own 404
// and 405 answers from a handler's.
type routeRecorder struct{ mux *http.ServeMux }

// Handle registers h for pattern.
func (rr routeRecorder) Handle(pattern string, h http.Handler) {
	rr.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st := stateFrom(r.Context()); st != nil {
			st.route = r.Pattern
		}
		h.ServeHTTP(w, r)
	}))
}

// withJSONFallbacks makes the mux's own 404 and 405 answers JSON like every
// other error. The mux matches once; whether a route matched is known by the
// time anything is written.
func withJSONFallbacks(log *slog.Logger, mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(&fallbackWriter{ResponseWriter: w, r: r, log: log}, r)
	})
}

// fallbackWriter passes a matched route's answer through untouched, and
// replaces the mux's plain-text 404 and 405 (its 405 sets Allow first, which
// is kept) with the JSON error.
type fallbackWriter struct {
	http.ResponseWriter
	r        *http.Request
	log      *slog.Logger
	decided  bool
	replaced bool
}

func (f *fallbackWriter) decide(status int) {
	if f.decided {
		return
	}
	f.decided = true
	st := stateFrom(f.r.Context())
	if st != nil && st.route == "" && (status == http.StatusNotFound || status == http.StatusMethodNotAllowed) {
		f.replaced = true
		var err error
		if status == http.StatusNotFound {
			err = errNotFound(f.r)
		} else {
			err = frameforge.Errorf(frameforge.EMethodNotAllowed, "Method %s is not allowed on %s.", f.r.Method, safePath(f.r.URL.Path))
		}
		writeError(f.ResponseWriter, f.r, f.log, err)
	}
}

func (f *fallbackWriter) WriteHeader(status int) {
	f.decide(status)
	if !f.replaced {
		f.ResponseWriter.WriteHeader(status)
	}
}

func (f *fallbackWriter) Write(b []byte) (int, error) {
	f.decide(http.StatusOK)
	if f.replaced {
		return len(b), nil // the mux's plain-text body is replaced by ours
	}
	return f.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (f *fallbackWriter) Unwrap() http.ResponseWriter { return f.ResponseWriter }

func errNotFound(r *http.Request) error {
	return frameforge.Errorf(frameforge.ENotFound, "No such endpoint: %s %s.", r.Method, safePath(r.URL.Path))
}

// handleNotFound answers an unknown path inside a matched route (an asset
// the page does not have) exactly as an unmatched path is answered.
func handleNotFound(log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, log, errNotFound(r))
	})
}

// safePath bounds a client-chosen path before it goes into a message.
func safePath(p string) string {
	if len(p) > 200 {
		p = p[:200] + "…"
	}
	q := strconv.Quote(p)
	return q[1 : len(q)-1]
}

// withTimeout bounds a short request with a deadline (REQUEST_TIMEOUT).
func withTimeout(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}
