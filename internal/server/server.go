// Package server is FrameForge's HTTP layer: routes, handlers, middleware and
// the one place where error codes become HTTP statuses.
package server

import (
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/klauspost/compress/gzhttp"
	"github.com/rs/cors"

	"frameforge/internal/admission"
	"frameforge/internal/imaging"
	"frameforge/internal/metrics"
	"frameforge/internal/provider"
	"frameforge/internal/ratelimit"
)

// Config is what the HTTP layer needs to know.
type Config struct {
	Limits         Limits
	Prepare        imaging.Options
	UpstreamBytes  int64         // all prepared images of one edit together; 0 = no budget
	AllowedOrigins []string      // CORS; "*" allows any origin
	EditTimeout    time.Duration // POST /api/edit, end to end
	RequestTimeout time.Duration // every other request

	RateLimitEdit    ratelimit.Rule // per client, POST /api/edit
	RateLimitDefault ratelimit.Rule // per client, every other route but health, ready and metrics
	TrustedProxies   []netip.Prefix // whose X-Forwarded-For is believed
	// RateLimitIPv6Prefix is how many leading bits of an IPv6 address name
	// one client (0 = 64): a host can pick any address of its /64.
	RateLimitIPv6Prefix int

	MaxConcurrentEdits int           // edits talking to providers at once
	EditQueueSize      int           // edits waiting for a slot beyond those
	EditQueueTimeout   time.Duration // longest wait for a slot
}

// NewServer returns the whole HTTP API as one handler. draining reports that
// the process is shutting down (the readiness endpoint then says so).
// Middleware order, from the outside in: request id, observe (access log and
// metrics), recover, CORS, compression, rate limit, then the routes.
func NewServer(log *slog.Logger, cfg Config, reg *provider.Registry, draining func() bool) http.Handler {
	gate := admission.New(cfg.MaxConcurrentEdits, cfg.EditQueueSize, cfg.EditQueueTimeout)
	// After a burst of edits the heap is mostly dead uploads. Left alone,
	// the GC would not look at them until the heap doubled again, so the
	// next burst would stack its uploads on top of the last one's (peak RSS
	// twice the bytes in flight, measured): collect as soon as the gate is
	// briefly idle (cheap, the live heap is small then). And once it has
	// been idle a while, give the memory back to the OS too, so RSS goes
	// back near its idle figure.
	gate.OnIdle(200*time.Millisecond, runtime.GC)
	gate.OnIdle(5*time.Second, debug.FreeOSMemory)
	m := metrics.New(metrics.Gauges{EditsRunning: gate.Running, EditsWaiting: gate.Waiting})
	mux := http.NewServeMux()
	addRoutes(routeRecorder{mux}, log, cfg, reg, gate, m, draining)
	var h http.Handler = withJSONFallbacks(log, mux)
	h = withRateLimit(log, newRateLimits(cfg, time.Now), m)(h)
	h = withCompression(h)
	h = withCORS(cfg.AllowedOrigins)(h)
	h = withRecover(log)(h)
	h = withObserve(log, m)(h)
	h = withRequestID(h)
	return h
}

// KeyHeaders are the request headers that may carry provider keys.
var KeyHeaders = []string{"X-Google-API-Key", "X-Gemini-API-Key", "X-Fal-Key", "Authorization"}

// withCORS answers preflights and sets CORS headers for the configured
// origins. The key headers are allowed so a browser client can send its own
// keys; the headers a client may want to read are exposed.
func withCORS(origins []string) func(http.Handler) http.Handler {
	if len(origins) == 0 {
		return func(h http.Handler) http.Handler { return h }
	}
	c := cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodHead},
		AllowedHeaders: append([]string{"Content-Type", "X-Request-ID"}, KeyHeaders...),
		ExposedHeaders: []string{"X-Request-ID", FallbackHeader, "X-FrameForge-Provider", "Content-Disposition",
			"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"},
		MaxAge: 600,
	})
	return c.Handler
}

// withCompression gzips text responses (JSON, HTML, JS, CSS, metrics) for
// clients that accept it. Images are never recompressed: they are already
// compressed, and a second pass costs CPU for nothing.
func withCompression(h http.Handler) http.Handler {
	// Below 256 bytes gzip's own framing eats most of the gain.
	wrap, err := gzhttp.NewWrapper(gzhttp.MinSize(256), gzhttp.ContentTypes([]string{
		"application/json", "text/html", "text/css", "text/javascript", "application/javascript", "text/plain",
	}))
	if err != nil {
		panic(err) // static options; cannot fail
	}
	return wrap(h)
}
