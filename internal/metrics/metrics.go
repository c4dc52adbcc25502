// Package metrics defines FrameForge's Prometheus metrics on a registry of
// its own (never the process-global default one).
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds every collector. Its methods are safe for concurrent use.
type Metrics struct {
	reg              *prometheus.Registry
	requests         *prometheus.CounterVec
	duration         *prometheus.HistogramVec
	bytesIn          prometheus.Counter
	bytesOut         prometheus.Counter
	providerCalls    *prometheus.CounterVec
	providerDuration *prometheus.HistogramVec
	fallbacks        *prometheus.CounterVec
	rateLimited      *prometheus.CounterVec
	refused          *prometheus.CounterVec
	structureScore   *prometheus.HistogramVec
	structureChecks  *prometheus.CounterVec
	structureSeconds prometheus.Histogram
	models           modelLabels
}

// Gauges reports values owned elsewhere (the edit gate), read at scrape time.
type Gauges struct {
	EditsRunning func() int
	EditsWaiting func() int
}

// New registers every collector, plus the Go runtime and process collectors
// (goroutines, heap, RSS), on a new registry.
func New(g Gauges) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frameforge_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "frameforge_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}, []string{"route"}),
		bytesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "frameforge_http_request_bytes_total", Help: "Request body bytes received (as declared by Content-Length).",
		}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "frameforge_http_response_bytes_total", Help: "Response body bytes sent.",
		}),
		providerCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frameforge_provider_calls_total", Help: "Provider calls by provider and outcome (ok or an error code).",
		}, []string{"provider", "outcome"}),
		providerDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "frameforge_provider_call_duration_seconds", Help: "Upstream latency of provider calls.",
			Buckets: []float64{.1, .5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300},
		}, []string{"provider"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frameforge_provider_fallbacks_total",
			Help: "Edits handed from a failed provider to the next of its fallback chain, by pair and the first one's error code.",
		}, []string{"from", "to", "reason"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frameforge_rate_limited_total", Help: "Requests refused by the per-client rate limit, by budget.",
		}, []string{"budget"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frameforge_edits_refused_total", Help: "Edits refused by backpressure (queue full or wait too long).",
		}, []string{"reason"}),
		structureScore: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "frameforge_structure_score", Help: "Scores of the structural-change check, by provider.",
			Buckets: []float64{.1, .2, .3, .4, .5, .6, .7, .8, .9, 1},
		}, []string{"provider"}),
		structureChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frameforge_structure_checks_total",
			Help: "Structural-change checks by provider, model and outcome (ok, flagged, skipped, error).",
		}, []string{"provider", "model", "outcome"}),
		structureSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "frameforge_structure_check_seconds", Help: "Time of a structural-change check from the answer on (its decode and the comparison; the input is reduced during the provider call).",
			Buckets: []float64{.05, .1, .2, .3, .5, 1, 2, 5},
		}),
		models: modelLabels{seen: map[string]bool{}},
	}
	reg.MustRegister(m.requests, m.duration, m.bytesIn, m.bytesOut, m.providerCalls, m.providerDuration, m.fallbacks, m.rateLimited, m.refused,
		m.structureScore, m.structureChecks, m.structureSeconds,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if g.EditsRunning != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "frameforge_edits_in_flight", Help: "Edits talking to a provider now.",
		}, func() float64 { return float64(g.EditsRunning()) }))
	}
	if g.EditsWaiting != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "frameforge_edits_queued", Help: "Edits waiting for a provider slot.",
		}, func() float64 { return float64(g.EditsWaiting()) }))
	}
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveRequest records one finished HTTP request. route must come from a
// fixed set (the matched pattern, or "unmatched"); the method is the
// client's and is folded into a fixed set here (see MethodLabel).
func (m *Metrics) ObserveRequest(route, method string, status int, bytesIn, bytesOut int64, d time.Duration) {
	m.requests.WithLabelValues(route, MethodLabel(method), statusLabel(status)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
	m.bytesIn.Add(float64(max(bytesIn, 0)))
	m.bytesOut.Add(float64(bytesOut))
}

// MethodLabel is the method label of a request: one of the standard methods
// a client of this API may send, or "other". A label takes whatever string
// it is given and every distinct value is a series kept until the process
// ends, so a client sending made-up methods would grow /metrics (and the
// scraper's storage) without bound.
func MethodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return method
	}
	return "other"
}

// statusLabel is the status code as a label. Handlers only write the codes
// net/http lets through (100..999), so the set is bounded anyway; anything
// else is folded rather than trusted.
func statusLabel(status int) string {
	if status < 100 || status > 999 {
		return "other"
	}
	return strconv.Itoa(status)
}

// ObserveProvider records one provider call; outcome is "ok" or an error code.
func (m *Metrics) ObserveProvider(provider, outcome string, d time.Duration) {
	m.providerCalls.WithLabelValues(provider, outcome).Inc()
	m.providerDuration.WithLabelValues(provider).Observe(d.Seconds())
}

// ProviderFallback counts an edit handed from one provider to the next of
// its fallback chain. from and to are configured chain entries (route ids)
// and reason an error code, so the label values are bounded.
func (m *Metrics) ProviderFallback(from, to, reason string) {
	m.fallbacks.WithLabelValues(from, to, reason).Inc()
}

// ObserveStructure records one structural-change check: outcome is ok,
// flagged, skipped or error; score is observed for ok and flagged.
func (m *Metrics) ObserveStructure(provider, model, outcome string, score float64, d time.Duration) {
	m.structureChecks.WithLabelValues(provider, m.models.label(model), outcome).Inc()
	if outcome == "ok" || outcome == "flagged" {
		m.structureScore.WithLabelValues(provider).Observe(score)
	}
	m.structureSeconds.Observe(d.Seconds())
}

// modelLabels bounds the model label: a fal model is any path a client
// names, so only the first maxModels distinct models get a series of their
// own, and later ones are "other".
type modelLabels struct {
	mu   sync.Mutex
	seen map[string]bool
}

const maxModels = 64

func (l *modelLabels) label(model string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[model] {
		return model
	}
	if len(l.seen) >= maxModels {
		return "other"
	}
	l.seen[model] = true
	return model
}

// RateLimited counts a request refused by a rate-limit budget.
func (m *Metrics) RateLimited(budget string) { m.rateLimited.WithLabelValues(budget).Inc() }

// EditRefused counts an edit refused by backpressure.
func (m *Metrics) EditRefused(reason string) { m.refused.WithLabelValues(reason).Inc() }

// Register adds collectors owned by another package (the job queue's) to
// the same registry, so one scrape shows everything.
func (m *Metrics) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
