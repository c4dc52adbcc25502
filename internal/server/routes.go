package server

import (
	"log/slog"
	"net/http"

	"frameforge/internal/admission"
	"frameforge/internal/metrics"
	"frameforge/internal/provider"
	"frameforge/internal/server/apidoc"
	"frameforge/web"
)

// addRoutes maps the entire API surface, one line per endpoint.
func addRoutes(mux routeRecorder, log *slog.Logger, cfg Config, reg *provider.Registry,
	gate *admission.Gate, m *metrics.Metrics, draining func() bool) {
	short := func(h http.Handler) http.Handler { return withTimeout(cfg.RequestTimeout, h) }
	mux.Handle("GET /api/health", short(handleHealth()))
	mux.Handle("GET /api/ready", short(handleReady(reg, gate, draining)))
	mux.Handle("GET /api/providers", short(handleProviders(reg, cfg.Limits)))
	mux.Handle("POST /api/edit", handleEdit(log, cfg, reg, gate, m))
	mux.Handle("GET /metrics", short(m.Handler()))
	webHandler := web.Handler(handleNotFound(log))
	mux.Handle("GET /{$}", webHandler)
	mux.Handle("GET /assets/", webHandler)
	mux.Handle("GET /api/openapi.json", short(apidoc.JSONHandler()))
	mux.Handle("GET /api/docs", short(apidoc.DocsHandler()))
}
