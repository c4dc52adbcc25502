// Package provider resolves a client's provider name to the provider that
// serves it, the model and the key for this one request.
package provider

import (
	"strings"

	"frameforge"
	"frameforge/internal/provider/fal"
)

// Default is the provider used when a request names none (compat).
const Default = "google"

// FalPrefix introduces a fal.ai model path in a provider name.
const FalPrefix = "fal:"

// Entry is one configured provider: the implementation and the server's own
// key for it (empty when the operator configured none).
type Entry struct {
	Provider  frameforge.Provider
	ServerKey string
	Model     string // the model used when the provider name does not carry one
}

// Credentials are the keys a client sent with one request.
type Credentials struct {
	Google string
	Fal    string
}

// Route is the outcome of resolving a provider name for one request.
type Route struct {
	ID       string // canonical name: "google" or "fal:<model path>"
	Provider frameforge.Provider
	Model    string
	Key      frameforge.Key // empty: no key anywhere, the development fallback applies
}

// Family is the provider without its model ("google" or "fal"): a label of
// bounded cardinality for metrics.
func (r Route) Family() string {
	if strings.HasPrefix(r.ID, FalPrefix) {
		return "fal"
	}
	return r.ID
}

// Registry knows the providers. It is immutable after New and safe for
// concurrent use.
type Registry struct {
	google    Entry
	fal       Entry
	falModels []string
}

// New returns a registry for the Google (Gemini) and fal providers. falModels
// are example model paths offered to clients; any valid path is accepted.
func New(google, fal Entry, falModels []string) *Registry {
	return &Registry{google: google, fal: fal, falModels: falModels}
}

// Resolve maps a provider name (case-insensitive, trimmed; empty means the
// default) to a route, choosing the request's key over the server's.
// It returns an EUnknownProvider error naming the valid choices.
func (r *Registry) Resolve(name string, creds Credentials) (Route, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	switch {
	case n == "":
		n = Default
		fallthrough
	case n == "google" || n == "nano-banana":
		return Route{ID: "google", Provider: r.google.Provider, Model: r.google.Model,
			Key: pickKey(creds.Google, r.google.ServerKey)}, nil
	case strings.HasPrefix(n, FalPrefix):
		path := strings.TrimSpace(n[len(FalPrefix):])
		if path == "" {
			return Route{}, frameforge.Errorf(frameforge.EUnknownProvider,
				"The provider %q needs a model path, for example \"fal:%s\".", FalPrefix, r.exampleFalModel())
		}
		// The fal client's own check: the path becomes part of an upstream URL.
		if err := fal.ValidateEndpointID(path); err != nil {
			return Route{}, frameforge.Wrap(err, frameforge.EUnknownProvider, frameforge.ErrorMessage(err))
		}
		return Route{ID: FalPrefix + path, Provider: r.fal.Provider, Model: path,
			Key: pickKey(creds.Fal, r.fal.ServerKey)}, nil
	}
	return Route{}, frameforge.Errorf(frameforge.EUnknownProvider,
		"Unknown provider %q. Valid providers are %s.", truncate(name, 100), r.validNames())
}

func (r *Registry) validNames() string {
	return `"google", "nano-banana" and "fal:<model path>" (for example "fal:` + r.exampleFalModel() + `")`
}

func (r *Registry) exampleFalModel() string {
	if len(r.falModels) > 0 {
		return r.falModels[0]
	}
	return "fal-ai/nano-banana/edit"
}

// pickKey prefers the client's key: it overrides the server's for this
// request only.
func pickKey(client, server string) frameforge.Key {
	if client != "" {
		return frameforge.NewKey(client, true)
	}
	return frameforge.NewKey(server, false)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Names returns the static provider names, sorted (compat with the Python
// backend's "available" list).
func (r *Registry) Names() []string { return []string{"google", "nano-banana"} }

// Info describes one provider for clients that want to show what will work.
type Info struct {
	ID         string   `json:"id"`
	Label      string   `json:"label"`
	Aliases    []string `json:"aliases,omitempty"`
	Prefix     string   `json:"prefix,omitempty"`
	Model      string   `json:"model,omitempty"`
	Models     []string `json:"models,omitempty"`
	Configured bool     `json:"configured"` // the server has its own key; otherwise a request key or the development fallback
	KeyHeaders []string `json:"key_headers"`
}

// Describe lists the providers with whether the server holds a key for each.
func (r *Registry) Describe() []Info {
	return []Info{
		{ID: "google", Label: "Nano Banana (Google Gemini)", Aliases: []string{"nano-banana"}, Model: r.google.Model,
			Configured: r.google.ServerKey != "", KeyHeaders: []string{"X-Google-API-Key", "X-Gemini-API-Key"}},
		{ID: "fal", Label: "fal.ai", Prefix: FalPrefix, Models: r.falModels,
			Configured: r.fal.ServerKey != "", KeyHeaders: []string{"X-Fal-Key", "Authorization"}},
	}
}
