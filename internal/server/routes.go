package server

import (
	"log/slog"
	"net/http"

	"frameforge/internal/provider"
)

// addRoutes maps the entire API surface, one line per endpoint.
func addRoutes(mux *http.ServeMux, log *slog.Logger, cfg Config, reg *provider.Registry) {
	mux.Handle("GET /api/health", handleHealth())
	mux.Handle("GET /api/providers", handleProviders(reg))
	mux.Handle("POST /api/edit", handleEdit(log, cfg, reg))
}
