package server

import (
	"net/http"

	"frameforge/internal/provider"
)

// handleHealth serves GET /api/health: compat, byte for byte {"status":"ok"}.
func handleHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusOK, struct {
			Status string `json:"status"`
		}{"ok"})
	})
}

// handleProviders serves GET /api/providers: the compat fields "default" and
// "available", plus "providers" with what a UI needs to show what will work.
func handleProviders(reg *provider.Registry) http.Handler {
	type response struct {
		Default   string          `json:"default"`
		Available []string        `json:"available"`
		Providers []provider.Info `json:"providers"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusOK, response{
			Default:   provider.Default,
			Available: reg.Names(),
			Providers: reg.Describe(),
		})
	})
}
