package server

import (
	"log/slog"
	"net/http"
	"time"

	"frameforge/internal/server/apidoc"
	"frameforge/web"
)

// addRoutes maps the entire API surface, one line per endpoint, each with
// its policy: which per-client budget it spends, how long it may take, and
// whether its answer may be compressed.
func addRoutes(mux routeRecorder, log *slog.Logger, cfg Config, d Deps, rl *rateLimits) {
	// Probes and scrapers poll these: they must not eat a client's budget
	// or be refused when it is spent.
	probe := policy{timeout: cfg.RequestTimeout}
	api := policy{budget: &rl.other, timeout: cfg.RequestTimeout}
	edit := policy{budget: &rl.edit, timeout: cfg.EditTimeout}
	gz := newCompression()
	h := func(pattern string, p policy, handler http.Handler) {
		mux.Handle(pattern, p.wrap(log, rl, gz, handler))
	}

	h("GET /api/health", probe, handleHealth())
	h("GET /api/ready", probe, handleReady(d.Registry, d.Pipeline.Gate(), d.Draining))
	h("GET /metrics", probe, d.Metrics.Handler())
	h("GET /api/providers", api, handleProviders(d.Registry, cfg.Limits))
	h("POST /api/edit", edit, handleEdit(log, cfg, d.Registry, d.Pipeline))
	webHandler := web.Handler(handleNotFound(log))
	h("GET /{$}", api, webHandler)
	h("GET /assets/", api, webHandler)
	doc := apidoc.New(d.Registry.Describe())
	h("GET /api/presets", api, handlePresets(d.Presets))
	if d.Jobs != nil {
		// An event stream lasts as long as its job: no deadline of its own,
		// and no compression, which holds small writes back.
		stream := policy{budget: &rl.other, stream: true}
		jh := &jobsHandler{log: log, cfg: cfg, reg: d.Registry, pipe: d.Pipeline, jobs: d.Jobs, presets: d.Presets}
		h("POST /api/jobs", edit, jh.submit())
		h("GET /api/jobs", api, jh.list())
		h("GET /api/jobs/{id}", api, jh.get())
		h("DELETE /api/jobs/{id}", api, jh.cancel())
		h("GET /api/jobs/{id}/results/{n}", api, jh.image("results"))
		h("GET /api/jobs/{id}/inputs/{n}", api, jh.image("inputs"))
		h("GET /api/jobs/{id}/events", stream, jh.events())
	}
	h("GET /api/openapi.json", api, doc.JSONHandler())
	h("GET /api/docs", api, doc.DocsHandler())
}

// policy is what a route may spend: a per-client budget (nil: none), a
// deadline for the whole request (0: none); stream marks an answer written
// piece by piece, which compression would hold back.
type policy struct {
	budget  *budget
	timeout time.Duration
	stream  bool
}

func (p policy) wrap(log *slog.Logger, rl *rateLimits, gz func(http.Handler) http.Handler, h http.Handler) http.Handler {
	if p.timeout > 0 {
		h = withTimeout(p.timeout, h)
	}
	if p.budget != nil {
		h = withRateLimit(log, rl, *p.budget, h)
	}
	if !p.stream {
		h = gz(h)
	}
	return h
}
