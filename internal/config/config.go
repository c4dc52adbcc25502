// Package config reads FrameForge's configuration from the environment (and
// an optional .env file), once, at start-up. Every problem is reported at
// once, each naming its variable; nothing else in the program reads the
// environment.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"frameforge/internal/imaging"
	"frameforge/internal/provider/fal"
	"frameforge/internal/provider/gemini"
	"frameforge/internal/ratelimit"
	"frameforge/internal/server"
)

// Secret is a credential from the environment. It never prints.
type Secret string

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString redacts the secret for %#v.
func (s Secret) GoString() string { return s.String() }

// LogValue redacts the secret in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// HTTP holds the listener's timeouts. ReadHeaderTimeout is what stops
// slow-loris clients; Shutdown bounds the drain on SIGTERM.
type HTTP struct {
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration
}

// Log selects the log format and level.
type Log struct {
	Level  slog.Level
	Format string // "text" or "json"
}

// Config is the whole configuration.
type Config struct {
	Host          string
	Port          int
	HTTP          HTTP
	Log           Log
	Server        server.Config
	GoogleKey     Secret
	FalKey        Secret
	Gemini        gemini.Config
	Fal           fal.Config
	OpenAIBaseURL string
}

// Addr is the listen address.
func (c Config) Addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// Defaults of the settings that are not a provider's own.
const (
	DefaultHost             = "127.0.0.1"
	DefaultPort             = 8000
	DefaultMaxImageBytes    = 25 << 20
	DefaultMaxRequestBytes  = 64 << 20
	DefaultMaxImages        = 10
	DefaultMaxPixels        = 100_000_000
	DefaultImageMaxSide     = 4096
	DefaultUpstreamBytes    = 14 << 20
	DefaultEditTimeout      = 5 * time.Minute
	DefaultRequestTimeout   = 30 * time.Second
	DefaultOpenAIBaseURL    = "https://api.openai.com/v1/"
	DefaultEditQueueTimeout = 30 * time.Second
)

// Default rate limits per client (the seed documents' figures).
var (
	DefaultRateLimitEdit    = ratelimit.Rule{Limit: 100, Period: time.Hour}
	DefaultRateLimitDefault = ratelimit.Rule{Limit: 1000, Period: time.Hour}
)

// Load reads the configuration through getenv. It returns every problem at
// once (errors.Join), one line each, each naming its variable.
func Load(getenv func(string) string) (Config, error) {
	l := &loader{getenv: getenv}
	var c Config

	c.Host = l.str("SERVER_HOST", DefaultHost)
	port := "SERVER_PORT"
	if getenv(port) == "" && getenv("PORT") != "" {
		port = "PORT" // the platform convention (Cloud Run, Heroku); SERVER_PORT wins when both are set
	}
	c.Port = l.intRange(port, DefaultPort, 0, 65535)

	c.Log.Level = l.level("LOG_LEVEL", slog.LevelInfo)
	c.Log.Format = l.oneOf("LOG_FORMAT", "text", "text", "json")

	c.GoogleKey = Secret(l.str("GOOGLE_API_KEY", ""))
	if c.GoogleKey == "" {
		c.GoogleKey = Secret(l.str("GEMINI_API_KEY", ""))
	}
	c.FalKey = Secret(l.str("FAL_KEY", ""))

	// Provider settings are read here and checked by the provider's own
	// Validate (below), which knows what its values must look like.
	c.Gemini = gemini.NewDefaultConfig()
	c.Gemini.Model = l.str("GOOGLE_MODEL_ID", c.Gemini.Model)
	c.Gemini.BaseURL = l.str("GEMINI_BASE_URL", c.Gemini.BaseURL)
	c.Gemini.MaxAttempts = l.int("GEMINI_MAX_ATTEMPTS", c.Gemini.MaxAttempts)

	c.Fal = fal.NewDefaultConfig()
	c.Fal.QueueURL = l.str("FAL_QUEUE_URL", c.Fal.QueueURL)
	c.Fal.RunURL = l.str("FAL_RUN_URL", c.Fal.RunURL)
	c.Fal.RestURL = l.str("FAL_REST_URL", c.Fal.RestURL)
	c.Fal.UploadThreshold = l.bytes("FAL_UPLOAD_THRESHOLD", c.Fal.UploadThreshold)
	c.Fal.MaxDownloadBytes = l.bytes("FAL_MAX_DOWNLOAD_BYTES", c.Fal.MaxDownloadBytes)
	c.OpenAIBaseURL = l.url("OPENAI_BASE_URL", DefaultOpenAIBaseURL)

	s := &c.Server
	s.AllowedOrigins = l.origins("ALLOWED_ORIGINS", []string{"*"})
	s.Limits.MaxImageBytes = l.bytes("MAX_IMAGE_BYTES", DefaultMaxImageBytes)
	s.Limits.MaxRequestBytes = l.bytes("MAX_REQUEST_BYTES", DefaultMaxRequestBytes)
	s.Limits.MaxImages = l.intRange("MAX_IMAGES", DefaultMaxImages, 1, 100)
	s.Limits.MaxPixels = l.pixels("MAX_IMAGE_PIXELS", DefaultMaxPixels)
	// 4096: the largest output of the current image models ("4K"); a larger
	// input adds bytes, not detail the model uses. A 12 MP phone photo
	// (4032x3024) fits, so it only loses its metadata.
	s.Prepare = imaging.Options{MaxSide: l.intRange("IMAGE_MAX_SIDE", DefaultImageMaxSide, 64, 16384)}
	s.UpstreamBytes = l.bytes("UPSTREAM_MAX_BYTES", DefaultUpstreamBytes)
	s.EditTimeout = l.duration("EDIT_TIMEOUT", DefaultEditTimeout)
	s.RequestTimeout = l.duration("REQUEST_TIMEOUT", DefaultRequestTimeout)
	s.RateLimitEdit = l.rule("RATE_LIMIT_EDIT", DefaultRateLimitEdit)
	s.RateLimitDefault = l.rule("RATE_LIMIT_DEFAULT", DefaultRateLimitDefault)
	s.TrustedProxies = l.prefixes("TRUSTED_PROXIES")
	s.RateLimitIPv6Prefix = l.intRange("RATE_LIMIT_IPV6_PREFIX", ratelimit.DefaultIPv6Prefix, 32, 128)
	// Edits mostly wait on the provider, so many can run per core; the bound
	// is memory (see the README) and the providers' own quotas.
	s.MaxConcurrentEdits = l.intRange("MAX_CONCURRENT_EDITS", max(8, 8*runtime.NumCPU()), 1, 100_000)
	s.EditQueueSize = l.intRange("EDIT_QUEUE_SIZE", 2*s.MaxConcurrentEdits, 0, 1_000_000)
	s.EditQueueTimeout = l.duration("EDIT_QUEUE_TIMEOUT", DefaultEditQueueTimeout)

	c.HTTP.ReadHeaderTimeout = l.duration("READ_HEADER_TIMEOUT", 10*time.Second)
	c.HTTP.ReadTimeout = l.duration("READ_TIMEOUT", 2*time.Minute)
	// The write deadline runs from the end of the request headers to the end
	// of the answer, so it must cover reading the upload and the whole edit.
	c.HTTP.WriteTimeout = l.duration("WRITE_TIMEOUT", c.HTTP.ReadTimeout+s.EditTimeout+30*time.Second)
	c.HTTP.IdleTimeout = l.duration("IDLE_TIMEOUT", 2*time.Minute)
	c.HTTP.ShutdownTimeout = l.duration("SHUTDOWN_TIMEOUT", 30*time.Second)

	if s.Limits.MaxImageBytes > s.Limits.MaxRequestBytes && l.getenv("MAX_IMAGE_BYTES") != "" {
		l.fail("MAX_IMAGE_BYTES", "must not exceed MAX_REQUEST_BYTES (%s)", humanize.IBytes(uint64(s.Limits.MaxRequestBytes)))
	}
	if c.HTTP.WriteTimeout <= s.EditTimeout {
		l.fail("WRITE_TIMEOUT", "must be longer than EDIT_TIMEOUT (%s), or edits are cut off mid-answer", s.EditTimeout)
	}
	l.errs = append(l.errs, c.Gemini.Validate(), c.Fal.Validate())
	return c, errors.Join(l.errs...)
}

// LogValue is the effective configuration for the start-up log line, keys
// shown only as set or unset.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("addr", c.Addr()),
		slog.String("log_level", c.Log.Level.String()),
		slog.String("log_format", c.Log.Format),
		slog.Any("google_api_key", c.GoogleKey),
		slog.Any("fal_key", c.FalKey),
		slog.String("google_model_id", c.Gemini.Model),
		slog.String("gemini_base_url", c.Gemini.BaseURL),
		slog.String("fal_queue_url", c.Fal.QueueURL),
		slog.String("fal_rest_url", c.Fal.RestURL),
		slog.Any("allowed_origins", c.Server.AllowedOrigins),
		slog.String("max_image_bytes", humanize.IBytes(uint64(c.Server.Limits.MaxImageBytes))),
		slog.String("max_request_bytes", humanize.IBytes(uint64(c.Server.Limits.MaxRequestBytes))),
		slog.Int("max_images", c.Server.Limits.MaxImages),
		slog.Int64("max_image_pixels", c.Server.Limits.MaxPixels),
		slog.Int("image_max_side", c.Server.Prepare.MaxSide),
		slog.String("upstream_max_bytes", humanize.IBytes(uint64(c.Server.UpstreamBytes))),
		slog.Duration("edit_timeout", c.Server.EditTimeout),
		slog.String("rate_limit_edit", c.Server.RateLimitEdit.String()),
		slog.String("rate_limit_default", c.Server.RateLimitDefault.String()),
		slog.Any("trusted_proxies", c.Server.TrustedProxies),
		slog.Int("rate_limit_ipv6_prefix", c.Server.RateLimitIPv6Prefix),
		slog.Int("max_concurrent_edits", c.Server.MaxConcurrentEdits),
		slog.Int("edit_queue_size", c.Server.EditQueueSize),
		slog.Duration("edit_queue_timeout", c.Server.EditQueueTimeout),
		slog.Duration("request_timeout", c.Server.RequestTimeout),
		slog.Duration("read_header_timeout", c.HTTP.ReadHeaderTimeout),
		slog.Duration("read_timeout", c.HTTP.ReadTimeout),
		slog.Duration("write_timeout", c.HTTP.WriteTimeout),
		slog.Duration("shutdown_timeout", c.HTTP.ShutdownTimeout),
	)
}

// loader parses variables and collects every problem.
type loader struct {
	getenv func(string) string
	errs   []error
}

func (l *loader) fail(name, format string, args ...any) {
	l.errs = append(l.errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
}

func (l *loader) str(name, def string) string {
	if v := strings.TrimSpace(l.getenv(name)); v != "" {
		return v
	}
	return def
}

// int reads a whole number; its range is the caller's to check.
func (l *loader) int(name string, def int) int {
	v := l.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		l.fail(name, "must be a whole number, got %q", v)
		return def
	}
	return n
}

func (l *loader) intRange(name string, def, lo, hi int) int {
	n := l.int(name, def)
	if n < lo || n > hi {
		l.fail(name, "must be a whole number from %d to %d, got %q", lo, hi, l.str(name, ""))
		return def
	}
	return n
}

func (l *loader) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(l.str(name, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	l.fail(name, "must be one of %s, got %q", strings.Join(allowed, ", "), v)
	return def
}

func (l *loader) level(name string, def slog.Level) slog.Level {
	v := l.str(name, "")
	if v == "" {
		return def
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(v)); err != nil {
		l.fail(name, "must be debug, info, warn or error, got %q", v)
		return def
	}
	return lv
}

func (l *loader) duration(name string, def time.Duration) time.Duration {
	v := l.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		l.fail(name, "must be a positive Go duration such as 90s or 5m, got %q", v)
		return def
	}
	return d
}

// bytes accepts a plain number of bytes or a size such as 25MB or 25MiB.
func (l *loader) bytes(name string, def int64) int64 {
	v := l.str(name, "")
	if v == "" {
		return def
	}
	n, err := humanize.ParseBytes(v)
	if err != nil || n == 0 || n > 1<<40 {
		l.fail(name, "must be a size such as 25MiB or 26214400, got %q", v)
		return def
	}
	return int64(n)
}

// pixels accepts a plain number or megapixels such as 100MP.
func (l *loader) pixels(name string, def int64) int64 {
	v := l.str(name, "")
	if v == "" {
		return def
	}
	mult := 1.0
	if s, ok := strings.CutSuffix(strings.ToUpper(v), "MP"); ok {
		v, mult = strings.TrimSpace(s), 1e6
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f*mult < 1 || f*mult > 1e10 {
		l.fail(name, "must be a pixel count such as 100000000 or 100MP, got %q", l.getenv(name))
		return def
	}
	return int64(f * mult)
}

func (l *loader) url(name, def string) string {
	v := l.str(name, "")
	if v == "" {
		return def
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		l.fail(name, "must be an absolute http(s) URL, got %q", v)
		return def
	}
	return v
}

// origins accepts a JSON array (compat: ["http://localhost:5173"]) or a
// comma-separated list. Each entry is "*" or scheme://host[:port].
func (l *loader) origins(name string, def []string) []string {
	v := l.str(name, "")
	if v == "" {
		return def
	}
	var list []string
	if strings.HasPrefix(v, "[") {
		if err := json.Unmarshal([]byte(v), &list); err != nil {
			l.fail(name, "is not a valid JSON array of strings: %v", err)
			return def
		}
	} else {
		list = strings.Split(v, ",")
	}
	out := make([]string, 0, len(list))
	for _, o := range list {
		o = strings.TrimSuffix(strings.TrimSpace(o), "/")
		if o == "" {
			continue
		}
		if o != "*" {
			u, err := url.Parse(o)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" {
				l.fail(name, "%q is not an origin such as https://app.example.com", o)
				continue
			}
		}
		out = append(out, o)
	}
	if len(out) == 0 {
		l.fail(name, "lists no origins")
		return def
	}
	return out
}

func (l *loader) rule(name string, def ratelimit.Rule) ratelimit.Rule {
	v := l.str(name, "")
	if v == "" {
		return def
	}
	r, err := ratelimit.ParseRule(v)
	if err != nil {
		l.fail(name, "%v", err)
		return def
	}
	return r
}

// prefixes reads a comma list of CIDRs or single addresses.
func (l *loader) prefixes(name string) []netip.Prefix {
	var out []netip.Prefix
	for _, f := range strings.Split(l.str(name, ""), ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				l.fail(name, "%q is not a CIDR such as 10.0.0.0/8 or an address", f)
				continue
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out
}
