package server

import (
	"log/slog"
	"net/http"
	"time"

	"frameforge/internal/auth"
)

// addRoutes maps the entire API surface, one line per endpoint, each with
// its policy: whether it needs an API token (protected: every route that
// does image work or shows a client's work), which per-client budget it
// spends, how long it may take, and whether its answer may be compressed.
func addRoutes(mux routeRecorder, log *slog.Logger, cfg Config, d Deps, rl *rateLimits) {
	// Probes and scrapers poll these: they must not eat a client's budget
	// or be refused when it is spent.
	probe := policy{timeout: cfg.RequestTimeout}
	api := policy{budget: defaultBudget, timeout: cfg.RequestTimeout}
	// A client's own things: its jobs, its usage.
	mine := policy{protected: true, budget: defaultBudget, timeout: cfg.RequestTimeout}
	// Image work: the handler spends the edit budget (and the token's
	// quota) once the request is admitted toward a provider (access.admit).
	edit := policy{protected: true, budget: editBudget, timeout: cfg.EditTimeout}
	// Image work that calls no provider (a preview): protected, the
	// default budget, and an upload's time.
	imageWork := policy{protected: true, budget: defaultBudget, timeout: cfg.EditTimeout}
	gz := newCompression()
	h := func(pattern string, p policy, handler http.Handler) {
		mux.Handle(pattern, p.wrap(log, cfg.Auth, d.Tokens, rl, gz, handler))
	}

	// Health and readiness answer a few bytes from memory at once: a
	// deadline has nothing to bound there and compression nothing to
	// shrink, and both were a measurable part of the fast path
	// (docs/performance.md, "The fast path").
	instant := policy{small: true}
	h("GET /api/health", instant, handleHealth())
	h("GET /api/ready", instant, handleReady(d.Registry, d.Pipeline.Gate(), d.Draining))
	h("GET /metrics", probe, d.Metrics.Handler())
	h("GET /api/providers", api, handleProviders(d.Registry, cfg.Limits, cfg.Auth, cfg.Disclosure))
	h("POST /api/edit", edit, handleEdit(log, cfg, d.Registry, d.Pipeline))
	// A preview is image work too (a decode), but no provider call: it
	// needs a token where tokens are required, and spends the default
	// budget, not the edit budget or a quota.
	h("POST /api/preview", imageWork, handlePreview(log, cfg, d.Pipeline))
	h("GET /api/usage", mine, handleUsage(log))
	// The page and its files spend no budget: one page load is a dozen of
	// them, and an office behind one address would run out of page loads
	// long before it ran out of edits. They are cheap, served from memory.
	static := policy{timeout: cfg.RequestTimeout}
	webHandler := preparedWeb(handleNotFound(log)) // built in the background (prepared.go)
	h("GET /{$}", static, webHandler)
	h("GET /assets/", static, webHandler)
	docJSON, docPage := preparedDocs(d.Registry.Describe())
	h("GET /api/presets", api, handlePresets(d.Presets))
	if d.Jobs != nil {
		// An event stream lasts as long as its job: no deadline of its own,
		// and no compression, which holds small writes back.
		stream := policy{protected: true, budget: defaultBudget, stream: true}
		jh := &jobsHandler{log: log, cfg: cfg, reg: d.Registry, pipe: d.Pipeline, jobs: d.Jobs, presets: d.Presets}
		h("POST /api/jobs", edit, jh.submit())
		h("GET /api/jobs", mine, jh.list())
		h("GET /api/jobs/{id}", mine, jh.get())
		h("DELETE /api/jobs/{id}", mine, jh.cancel())
		h("GET /api/jobs/{id}/results/{n}", mine, jh.image("results"))
		h("GET /api/jobs/{id}/inputs/{n}", mine, jh.image("inputs"))
		h("GET /api/jobs/{id}/events", stream, jh.events())
	}
	h("GET /api/openapi.json", api, docJSON)
	h("GET /api/docs", api, docPage)
}

// policy is what a route requires and may spend: an API token (protected;
// checked whenever one is sent, required when AUTH says so), a per-client
// budget, a deadline for the whole request (0: none); stream marks an
// answer written piece by piece, which compression would hold back, and
// small one too short to be worth compressing.
type policy struct {
	protected bool
	budget    budget
	timeout   time.Duration
	stream    bool
	small     bool
}

// wrap applies the policy. From the outside in: compression, the default
// budget (before the token look-up, so a flood of bad tokens is limited
// too), the token check, the deadline.
func (p policy) wrap(log *slog.Logger, mode auth.Mode, tokens *auth.Store, rl *rateLimits, gz func(http.Handler) http.Handler, h http.Handler) http.Handler {
	if p.timeout > 0 {
		h = withTimeout(p.timeout, h)
	}
	if p.protected {
		h = withAccess(log, mode, tokens, rl, p.budget == editBudget, h)
	}
	if p.budget == defaultBudget {
		h = withRateLimit(log, rl, h)
	}
	if !p.stream && !p.small {
		h = gz(h)
	}
	return h
}
