package server

import (
	"net/http"
	"strconv"

	"frameforge/internal/admission"
	"frameforge/internal/auth"
	"frameforge/internal/disclosure"
	"frameforge/internal/provider"
)

// handleHealth serves GET /api/health: compat, byte for byte {"status":"ok"}.
func handleHealth() http.Handler {
	// The answer never changes: encoded once (docs/performance.md, "The
	// fast path").
	body := []byte(`{"status":"ok"}`)
	length := []string{strconv.Itoa(len(body))}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, body, length)
	})
}

// handleProviders serves GET /api/providers: the compat fields "default" and
// "available", plus "providers" with what a UI needs to show what will work,
// the upload limits, so a UI can warn before uploading, "auth", the mode in
// force, so a UI knows whether to ask for an API token, and "disclosure",
// the label policy.
func handleProviders(reg *provider.Registry, lim Limits, mode auth.Mode, disc disclosure.Config) http.Handler {
	type limits struct {
		MaxImageBytes   int64 `json:"max_image_bytes"`
		MaxRequestBytes int64 `json:"max_request_bytes"`
		MaxImages       int   `json:"max_images"`
		MaxImagePixels  int64 `json:"max_image_pixels"`
	}
	type response struct {
		Default   string          `json:"default"`
		Available []string        `json:"available"`
		Providers []provider.Info `json:"providers"`
		// Fallbacks are the provider fallback chains, each headed by its
		// primary (PROVIDER_FALLBACKS); absent when there are none.
		Fallbacks []provider.Chain `json:"fallbacks,omitempty"`
		Limits    limits           `json:"limits"`
		Auth      auth.Mode        `json:"auth"` // "required" or "off": whether a page must ask for an API token
		// Disclosure is the label policy: off, optional (disclosure=true
		// asks for it) or always, and the label's text.
		Disclosure disclosureInfo `json:"disclosure"`
	}
	if disc.Mode == "" {
		disc.Mode = disclosure.Off
	}
	if disc.Text == "" {
		disc.Text = disclosure.DefaultText
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusOK, response{
			Default:    reg.Default(),
			Available:  reg.Names(),
			Providers:  reg.Describe(),
			Fallbacks:  reg.Chains(),
			Limits:     limits{lim.MaxImageBytes, lim.MaxRequestBytes, lim.MaxImages, lim.MaxPixels},
			Auth:       mode,
			Disclosure: disclosureInfo{Mode: string(disc.Mode), Text: disc.Text},
		})
	})
}

// disclosureInfo is the "disclosure" object of GET /api/providers.
type disclosureInfo struct {
	Mode string `json:"mode"`
	Text string `json:"text"`
}

// handleReady serves GET /api/ready: 200 while the server takes work, 503
// once it is draining for shutdown, so a load balancer stops sending edits
// before the listener closes. The body says which providers hold a server key
// and how busy the edit gate is.
func handleReady(reg *provider.Registry, gate *admission.Gate, draining func() bool) http.Handler {
	type response struct {
		Status        string          `json:"status"`
		EditsInFlight int             `json:"edits_in_flight"`
		EditsQueued   int             `json:"edits_queued"`
		Providers     map[string]bool `json:"providers"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp := response{Status: "ready", EditsInFlight: gate.Running(), EditsQueued: gate.Waiting(), Providers: map[string]bool{}}
		for _, p := range reg.Describe() {
			resp.Providers[p.ID] = p.Configured
		}
		status := http.StatusOK
		if draining != nil && draining() {
			resp.Status, status = "draining", http.StatusServiceUnavailable
		}
		encode(w, status, resp)
	})
}
