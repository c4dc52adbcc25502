// Package server is FrameForge's HTTP layer: routes, handlers, middleware and
// the one place where error codes become HTTP statuses.
package server

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/rs/cors"

	"frameforge/internal/imaging"
	"frameforge/internal/provider"
)

// Config is what the HTTP layer needs to know.
type Config struct {
	Limits         Limits
	Prepare        imaging.Options
	AllowedOrigins []string      // CORS; "*" allows any origin
	EditTimeout    time.Duration // POST /api/edit, end to end
	RequestTimeout time.Duration // every other request
}

// NewServer returns the whole HTTP API as one handler. Middleware order, from
// the outside in: request id, access log, recover, CORS, then the routes.
func NewServer(log *slog.Logger, cfg Config, reg *provider.Registry) http.Handler {
	mux := http.NewServeMux()
	addRoutes(mux, log, cfg, reg)
	var h http.Handler = withJSONFallbacks(log, mux)
	h = withCORS(cfg.AllowedOrigins)(h)
	h = withRecover(log)(h)
	h = withAccessLog(log)(h)
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
