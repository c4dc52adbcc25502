// Package provider is the table of providers: what each one is (its names,
// the headers and variables that carry its key, how a model is named) and,
// for one request, which provider, model and key serve a client's name.
// Everything that lists providers (credentials, CORS, /api/providers, the
// OpenAPI document, the page) derives from this table; adding a provider is
// one package plus one Spec in builtin.go.
package provider

import (
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"frameforge"
	"frameforge/internal/envconf"
)

// KeyHeader is a request header that may carry a provider key.
type KeyHeader struct {
	Name string
	// Schemes, when set, means the value is "<scheme> <key>" with one of
	// these schemes (case-insensitive), as in Authorization.
	Schemes []string
}

// Spec declares what a provider is.
type Spec struct {
	ID      string   // canonical name, e.g. "google"
	Aliases []string // other names for it, e.g. "nano-banana"
	Label   string   // for people

	KeyHeaders []KeyHeader // request headers with a per-request key, in order of preference
	KeyEnv     []string    // variables with the server's key, in order of preference

	// Prefix, when set, makes names of the form "<prefix><model>" (such as
	// "fal:fal-ai/flux-kontext/dev") and ParseModel checks the model part.
	// A provider without a prefix serves the model its Setup names; one
	// with a prefix whose Setup names a default model may also be named by
	// its bare ID ("openai"), meaning that model.
	Prefix     string
	ParseModel func(model string) error
	Models     []string // example models offered to clients (prefixed providers)

	// Load reads the provider's own settings (every problem is recorded on
	// env, naming its variable) and says how to build it.
	Load func(env *envconf.Reader) Setup
}

// Setup is a provider's configuration, read from the environment.
type Setup struct {
	Model    string     // the default model ("" for a prefixed provider without one)
	Settings slog.Value // the effective settings, for the start-up log
	New      func(hc *http.Client, log *slog.Logger) frameforge.Provider
}

// Entry is one provider of a running server: what it is, the
// implementation, and the server's own key (empty when the operator
// configured none).
type Entry struct {
	Spec
	Provider  frameforge.Provider
	ServerKey string
	Model     string // the model used when the name does not carry one
}

// Credentials are the keys a client sent with one request, by provider id.
type Credentials map[string]string

// Route is the outcome of resolving a provider name for one request.
type Route struct {
	ID       string // canonical name: "google" or "fal:<model path>"
	Family   string // the provider's id, without a model: a label of bounded cardinality
	Provider frameforge.Provider
	Model    string
	Key      frameforge.Key // empty: no key anywhere, the development fallback applies
}

// Registry knows the providers. It is immutable after NewRegistry and safe
// for concurrent use.
type Registry struct {
	entries []Entry
	chains  [][]link // fallback chains (WithFallbacks), each headed by its primary
}

// NewRegistry returns a registry of entries; the first is the default
// provider (used when a request names none).
func NewRegistry(entries ...Entry) *Registry {
	return &Registry{entries: entries}
}

// Default is the provider used when a request names none.
func (r *Registry) Default() string {
	if len(r.entries) == 0 {
		return ""
	}
	return r.entries[0].ID
}

// Resolve maps a provider name (case-insensitive, trimmed; empty means the
// default) to a route, choosing the request's key over the server's.
// It returns an EUnknownProvider error naming the valid choices.
func (r *Registry) Resolve(name string, creds Credentials) (Route, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "" {
		n = r.Default()
	}
	for _, e := range r.entries {
		if e.byName() && (n == e.ID || slices.Contains(e.Aliases, n)) {
			return Route{ID: e.ID, Family: e.ID, Provider: e.Provider, Model: e.Model,
				Key: pickKey(creds[e.ID], e.ServerKey)}, nil
		}
	}
	for _, e := range r.entries {
		model, ok := strings.CutPrefix(n, e.Prefix)
		if e.Prefix == "" || !ok {
			continue
		}
		model = strings.TrimSpace(model)
		if model == "" {
			return Route{}, frameforge.Errorf(frameforge.EUnknownProvider,
				"The provider %q needs a model path, for example \"%s%s\".", e.Prefix, e.Prefix, e.example())
		}
		if e.ParseModel != nil {
			if err := e.ParseModel(model); err != nil {
				return Route{}, frameforge.Wrap(err, frameforge.EUnknownProvider, frameforge.ErrorMessage(err))
			}
		}
		return Route{ID: e.Prefix + model, Family: e.ID, Provider: e.Provider, Model: model,
			Key: pickKey(creds[e.ID], e.ServerKey)}, nil
	}
	return Route{}, frameforge.Errorf(frameforge.EUnknownProvider,
		"Unknown provider %q. Valid providers are %s.", truncate(name, 100), r.validNames())
}

// validNames lists the names a client may send, for the unknown-provider
// message: `"google", "nano-banana" and "fal:<model path>" (for example …)`.
func (r *Registry) validNames() string {
	var names []string
	for _, e := range r.entries {
		if e.byName() {
			for _, n := range append([]string{e.ID}, e.Aliases...) {
				names = append(names, `"`+n+`"`)
			}
		}
		if e.Prefix != "" {
			names = append(names, `"`+e.Prefix+`<model path>" (for example "`+e.Prefix+e.example()+`")`)
		}
	}
	switch len(names) {
	case 0:
		return "none"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// byName reports whether the entry answers to its bare ID and aliases: a
// provider without a prefix always does, a prefixed one only when its
// Setup gave a default model (so "fal" alone stays unknown).
func (e Entry) byName() bool { return e.Prefix == "" || e.Model != "" }

func (e Entry) example() string {
	if len(e.Models) > 0 {
		return e.Models[0]
	}
	return "owner/model"
}

// Credentials reads the per-request keys through get (a request header
// getter), by each provider's KeyHeaders: the first header with a value wins.
func (r *Registry) Credentials(get func(name string) string) Credentials {
	c := Credentials{}
	for _, e := range r.entries {
		for _, h := range e.KeyHeaders {
			if v := headerKey(get(h.Name), h.Schemes); v != "" {
				c[e.ID] = v
				break
			}
		}
	}
	return c
}

// headerKey is the key in a header value: the whole value, or with schemes
// the token after one of them ("Bearer <key>", "Key <key>").
func headerKey(v string, schemes []string) string {
	v = strings.TrimSpace(v)
	if len(schemes) == 0 || v == "" {
		return v
	}
	scheme, token, ok := strings.Cut(v, " ")
	if !ok {
		return ""
	}
	for _, s := range schemes {
		if strings.EqualFold(scheme, s) {
			return strings.TrimSpace(token)
		}
	}
	return ""
}

// KeyHeaders are the names of every request header that may carry a key
// (for CORS), each once, in table order.
func (r *Registry) KeyHeaders() []string {
	var out []string
	for _, e := range r.entries {
		for _, h := range e.KeyHeaders {
			if !slices.Contains(out, h.Name) {
				out = append(out, h.Name)
			}
		}
	}
	return out
}

// ServerKeys are the keys the operator configured, for redaction.
func (r *Registry) ServerKeys() []string {
	var out []string
	for _, e := range r.entries {
		if e.ServerKey != "" {
			out = append(out, e.ServerKey)
		}
	}
	return out
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

// Names returns the names of the providers that need no model, ids then
// aliases (compat with the Python backend's "available" list).
func (r *Registry) Names() []string {
	var out []string
	for _, e := range r.entries {
		if e.byName() {
			out = append(out, e.ID)
			out = append(out, e.Aliases...)
		}
	}
	return out
}

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
	KeyEnv     []string `json:"key_env"` // where the operator puts the server's key

	KeySchemes map[string][]string `json:"-"` // header name → the schemes its value starts with, for the docs
}

// Describe lists the providers with whether the server holds a key for each.
func (r *Registry) Describe() []Info {
	out := make([]Info, 0, len(r.entries))
	for _, e := range r.entries {
		in := Info{ID: e.ID, Label: e.Label, Aliases: e.Aliases, Prefix: e.Prefix,
			Configured: e.ServerKey != "", KeyEnv: e.KeyEnv}
		in.Model = e.Model
		if e.Prefix != "" {
			in.Models = e.Models
		}
		for _, h := range e.KeyHeaders {
			in.KeyHeaders = append(in.KeyHeaders, h.Name)
			if len(h.Schemes) > 0 {
				if in.KeySchemes == nil {
					in.KeySchemes = map[string][]string{}
				}
				in.KeySchemes[h.Name] = h.Schemes
			}
		}
		out = append(out, in)
	}
	return out
}
