// Package server is FrameForge's HTTP layer: routes, handlers, middleware and
// the one place where error codes become HTTP statuses.
package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/klauspost/compress/gzhttp"
	"github.com/rs/cors"

	"frameforge/internal/auth"
	"frameforge/internal/disclosure"
	"frameforge/internal/jobs"
	"frameforge/internal/metrics"
	"frameforge/internal/pipeline"
	"frameforge/internal/presets"
	"frameforge/internal/provider"
	"frameforge/internal/ratelimit"
)

// Config is what the HTTP layer needs to know.
type Config struct {
	Limits         Limits
	AllowedOrigins []string      // CORS; "*" allows any origin
	EditTimeout    time.Duration // POST /api/edit, end to end
	RequestTimeout time.Duration // every other request
	Upload         UploadRate    // how slowly an upload may come

	RateLimitEdit    ratelimit.Rule // per client, POST /api/edit
	RateLimitDefault ratelimit.Rule // per client, every other route but health, ready and metrics
	TrustedProxies   []netip.Prefix // whose X-Forwarded-For is believed
	// RateLimitIPv6Prefix is how many leading bits of an IPv6 address name
	// one client (0 = 64): a host can pick any address of its /64.
	RateLimitIPv6Prefix int
	// Auth is the mode in force (auth.Resolve): Required or Off (the zero
	// value is Off).
	Auth auth.Mode
	// Disclosure is the "Virtually staged" label policy (DISCLOSURE…).
	Disclosure disclosure.Config
}

// UploadRate is the slowest upload accepted: after Grace, at least MinRate
// bytes per second on average (MinRate 0: no minimum). ReadTimeout is the
// server's READ_TIMEOUT, which stays the bound of the whole upload.
type UploadRate struct {
	MinRate     int64
	Grace       time.Duration
	ReadTimeout time.Duration
}

// Defaults of the HTTP layer.
const (
	DefaultMaxImageBytes   = 25 << 20
	DefaultMaxRequestBytes = 64 << 20
	DefaultMaxImages       = 10
	DefaultMaxPixels       = 100_000_000
	DefaultEditTimeout     = 5 * time.Minute
	DefaultRequestTimeout  = 30 * time.Second
	// 8 KiB/s (64 kbit/s) is below a weak mobile uplink, and far above the
	// byte every few seconds of a slow-loris body.
	DefaultMinUploadRate = 8 << 10
	DefaultUploadGrace   = 10 * time.Second
)

// DefaultConfig returns the defaults: limits that pass any phone photo
// (12–48 MP, 5–15 MB), 100 edits and 1000 other requests per client and hour
// (the seed documents' figures), and every origin allowed.
func DefaultConfig() Config {
	return Config{
		Disclosure: disclosure.Config{Mode: disclosure.Off, Text: disclosure.DefaultText, Position: disclosure.BottomRight},
		Limits: Limits{
			MaxImageBytes:   DefaultMaxImageBytes,
			MaxRequestBytes: DefaultMaxRequestBytes,
			MaxImages:       DefaultMaxImages,
			MaxPixels:       DefaultMaxPixels,
		},
		AllowedOrigins:   []string{"*"},
		EditTimeout:      DefaultEditTimeout,
		RequestTimeout:   DefaultRequestTimeout,
		Upload:           UploadRate{MinRate: DefaultMinUploadRate, Grace: DefaultUploadGrace},
		RateLimitEdit:    ratelimit.Rule{Limit: 100, Period: time.Hour},
		RateLimitDefault: ratelimit.Rule{Limit: 1000, Period: time.Hour},
	}
}

// Validate reports every problem at once; each error names its variable.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	l := c.Limits
	if l.MaxImageBytes <= 0 || l.MaxRequestBytes <= 0 {
		bad("MAX_IMAGE_BYTES, MAX_REQUEST_BYTES: must be > 0")
	}
	if l.MaxImageBytes > l.MaxRequestBytes {
		bad("MAX_IMAGE_BYTES: must not exceed MAX_REQUEST_BYTES (%s)", humanize.IBytes(uint64(max(l.MaxRequestBytes, 0))))
	}
	if l.MaxImages < 1 {
		bad("MAX_IMAGES: must be >= 1")
	}
	if l.MaxPixels < 1 {
		bad("MAX_IMAGE_PIXELS: must be >= 1")
	}
	if c.EditTimeout <= 0 {
		bad("EDIT_TIMEOUT: must be > 0")
	}
	if c.RequestTimeout <= 0 {
		bad("REQUEST_TIMEOUT: must be > 0")
	}
	if len(c.AllowedOrigins) == 0 {
		bad("ALLOWED_ORIGINS: lists no origins")
	}
	return errors.Join(errs...)
}

// Deps are what the HTTP layer uses and does not own.
type Deps struct {
	Registry *provider.Registry
	Pipeline *pipeline.Pipeline
	Metrics  *metrics.Metrics
	Draining func() bool     // the process is shutting down (the readiness endpoint says so); nil: never
	Jobs     *jobs.Service   // the asynchronous API; nil: no job endpoints
	Presets  presets.Catalog // room types and styles
	Tokens   *auth.Store     // API tokens, their quotas and usage; nil: no tokens (a token sent is not valid)
	// RateLimiter keeps the per-client budgets; nil: an in-memory one for
	// this replica.
	RateLimiter RateLimiter
}

// NewServer returns the whole HTTP API as one handler. Middleware order,
// from the outside in: request id, observe (access log and metrics),
// recover, CORS, then the routes, each with its own policy (rate-limit
// budget, timeout and compression, see routes.go).
func NewServer(log *slog.Logger, cfg Config, d Deps) http.Handler {
	if cfg.Auth != auth.Required {
		cfg.Auth = auth.Off
	}
	mux := http.NewServeMux()
	addRoutes(routeRecorder{mux}, log, cfg, d, newRateLimits(cfg, d.RateLimiter, d.Metrics, time.Now))
	var h http.Handler = withJSONFallbacks(log, mux)
	h = withCORS(cfg.AllowedOrigins, d.Registry.KeyHeaders())(h)
	h = withRecover(log)(h)
	h = withObserve(log, d.Metrics)(h)
	h = withRequestID(h)
	return h
}

// withCORS answers preflights and sets CORS headers for the configured
// origins. The key headers are allowed so a browser client can send its own
// keys (keyHeaders, from the provider table); the headers a client may want
// to read are exposed.
func withCORS(origins, keyHeaders []string) func(http.Handler) http.Handler {
	if len(origins) == 0 {
		return func(h http.Handler) http.Handler { return h }
	}
	c := cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodHead, http.MethodDelete},
		AllowedHeaders: append([]string{"Content-Type", "X-Request-ID", "Idempotency-Key", "Prefer", "Authorization", "X-API-Key"}, keyHeaders...),
		ExposedHeaders: []string{"X-Request-ID", FallbackHeader, StructureHeader, ProviderHeader, ModelHeader, TriedHeader, "Content-Disposition",
			"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Location",
			"Idempotent-Replayed", "Preference-Applied", "X-Quota-Remaining", "WWW-Authenticate"},
		MaxAge: 600,
	})
	return c.Handler
}

// newCompression returns the wrapper that gzips text responses (JSON, HTML,
// JS, CSS, metrics) for clients that accept it. Images are never
// recompressed: they are already compressed, and a second pass costs CPU
// for nothing. routes.go applies it per route (not to event streams).
func newCompression() func(http.Handler) http.Handler {
	// Below 256 bytes gzip's own framing eats most of the gain.
	wrap, err := gzhttp.NewWrapper(gzhttp.MinSize(256), gzhttp.ContentTypes([]string{
		"application/json", "text/html", "text/css", "text/javascript", "application/javascript", "text/plain",
	}))
	if err != nil {
		panic(err) // static options; cannot fail
	}
	return func(h http.Handler) http.Handler { return wrap(h) }
}
