// Package config reads FrameForge's configuration from the environment (and
// an optional .env file), once, at start-up. Every problem is reported at
// once, each naming its variable; nothing else in the program reads the
// environment. Each provider reads its own settings (provider.Spec.Load), so
// this file names none of them.
package config

import (
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"time"

	"github.com/dustin/go-humanize"

	"frameforge/internal/auth"
	"frameforge/internal/disclosure"
	"frameforge/internal/envconf"
	"frameforge/internal/imaging"
	"frameforge/internal/jobs"
	"frameforge/internal/pipeline"
	"frameforge/internal/provider"
	"frameforge/internal/ratelimit"
	"frameforge/internal/ratelimit/redislimit"
	"frameforge/internal/server"
	"frameforge/internal/structure"
	"frameforge/internal/webhook"
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
	// DrainDelay is how long the server keeps serving after SIGTERM with
	// /api/ready at 503, before it stops accepting connections (0: at once).
	DrainDelay time.Duration
}

// Log selects the log format and level.
type Log struct {
	Level  slog.Level
	Format string // "text" or "json"
}

// Config is the whole configuration.
type Config struct {
	Host      string
	Port      int
	HTTP      HTTP
	Log       Log
	Server    server.Config
	Edit      pipeline.Config
	Admission Admission
	Providers []Provider // the provider table, each with its server key and settings
	// Fallbacks are the provider fallback chains (PROVIDER_FALLBACKS),
	// checked against the table: provider.Registry.WithFallbacks accepts them.
	Fallbacks []provider.Chain
	Jobs      Jobs
	// AuthSetting is AUTH as set; Server.Auth is the mode in force
	// (auth.Resolve), and AuthReason says why, for the start-up log.
	AuthSetting auth.Mode
	AuthReason  string
	Shared      Shared
}

// Jobs configures the asynchronous API and its stores (docs/jobs.md).
type Jobs struct {
	DataDir     string // the embedded defaults: SQLite file, stored images, generated secrets
	DatabaseURL Secret // empty: SQLite in DataDir; postgres://… (may hold a password)
	StorageURL  Secret // empty: files under DataDir/objects; s3://… (may hold credentials)
	SecretKey   Secret // empty: generated once into DataDir
	// WebhookSecret signs webhook deliveries (whsec_…); empty: generated
	// once into DataDir.
	WebhookSecret Secret
	Queue         jobs.Config
}

// Shared configures what several replicas share beyond the job store
// (docs/scaling.md).
type Shared struct {
	RedisURL Secret // empty: rate limits in-process, per replica
	// RedisFailure is what rate limits do while Redis is unreachable.
	RedisFailure redislimit.Failure
}

// Admission bounds the edits in progress (see internal/admission).
type Admission struct {
	MaxConcurrentEdits int           // edits talking to providers at once
	EditQueueSize      int           // edits waiting for a slot beyond those
	EditQueueTimeout   time.Duration // longest wait for a slot
}

// Provider is one provider of the table, configured.
type Provider struct {
	provider.Spec
	ServerKey Secret
	KeyFrom   string // the variable ServerKey was read from ("" when none is set)
	Setup     provider.Setup
}

// Addr is the listen address.
func (c Config) Addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// Defaults of the settings that are neither the HTTP layer's nor a
// provider's own.
const (
	DefaultHost          = "127.0.0.1"
	DefaultPort          = 8000
	DefaultImageMaxSide  = 4096
	DefaultUpstreamBytes = 14 << 20
	// DefaultDecodeMemory admits one 100 MP baseline JPEG (MAX_IMAGE_PIXELS'
	// default, ~1.5 GB by imaging's estimate) or two 48 MP phone photos at
	// once; a 100 MP progressive CMYK JPEG (~4 GB) is refused.
	DefaultDecodeMemory = 2 << 30
	DefaultQueueTimeout = 30 * time.Second
)

// Load reads the configuration through getenv. It returns every problem at
// once (errors.Join), one line each, each naming its variable.
func Load(getenv func(string) string) (Config, error) {
	l := envconf.New(getenv)
	var c Config

	c.Host = l.Str("SERVER_HOST", DefaultHost)
	port := "SERVER_PORT"
	if !l.Set(port) && l.Set("PORT") {
		port = "PORT" // the platform convention (Cloud Run, Heroku); SERVER_PORT wins when both are set
	}
	c.Port = l.IntRange(port, DefaultPort, 0, 65535)

	c.Log.Level = l.Level("LOG_LEVEL", slog.LevelInfo)
	c.Log.Format = l.OneOf("LOG_FORMAT", "text", "text", "json")

	// Each provider reads its own settings; its server key is the first of
	// its variables that is set.
	for _, spec := range provider.Builtin() {
		p := Provider{Spec: spec, Setup: spec.Load(l)}
		for _, name := range spec.KeyEnv {
			if p.ServerKey = Secret(l.Str(name, "")); p.ServerKey != "" {
				p.KeyFrom = name
				break
			}
		}
		c.Providers = append(c.Providers, p)
	}
	c.Fallbacks = loadFallbacks(l, c.Providers)

	s := server.DefaultConfig()
	s.AllowedOrigins = l.Origins("ALLOWED_ORIGINS", s.AllowedOrigins)
	s.Limits.MaxImageBytes = l.Bytes("MAX_IMAGE_BYTES", s.Limits.MaxImageBytes)
	s.Limits.MaxRequestBytes = l.Bytes("MAX_REQUEST_BYTES", s.Limits.MaxRequestBytes)
	s.Limits.MaxImages = l.IntRange("MAX_IMAGES", s.Limits.MaxImages, 1, 100)
	s.Limits.MaxPixels = l.Pixels("MAX_IMAGE_PIXELS", s.Limits.MaxPixels)
	s.EditTimeout = l.Duration("EDIT_TIMEOUT", s.EditTimeout)
	s.RequestTimeout = l.Duration("REQUEST_TIMEOUT", s.RequestTimeout)
	s.RateLimitEdit = l.Rule("RATE_LIMIT_EDIT", s.RateLimitEdit)
	s.RateLimitDefault = l.Rule("RATE_LIMIT_DEFAULT", s.RateLimitDefault)
	s.TrustedProxies = l.Prefixes("TRUSTED_PROXIES")
	s.RateLimitIPv6Prefix = l.IntRange("RATE_LIMIT_IPV6_PREFIX", ratelimit.DefaultIPv6Prefix, 32, 128)
	s.Upload.MinRate = l.Bytes("MIN_UPLOAD_RATE", s.Upload.MinRate)
	s.Upload.Grace = l.Duration("UPLOAD_GRACE", s.Upload.Grace)
	c.AuthSetting = auth.Mode(l.OneOf("AUTH", string(auth.Auto), string(auth.Off), string(auth.Required), string(auth.Auto)))
	serverKey := false
	for _, p := range c.Providers {
		serverKey = serverKey || p.ServerKey != ""
	}
	s.Auth, c.AuthReason = auth.Resolve(c.AuthSetting, c.Host, serverKey)
	// The "Virtually staged" label (internal/disclosure).
	s.Disclosure = disclosure.Config{Mode: disclosure.Off, Text: disclosure.DefaultText, Position: disclosure.BottomRight}
	if v := l.Str("DISCLOSURE", "off"); v != "" {
		if m, err := disclosure.ParseMode(v); err != nil {
			l.Fail("DISCLOSURE", "%v", err)
		} else {
			s.Disclosure.Mode = m
		}
	}
	if v := l.Str("DISCLOSURE_TEXT", disclosure.DefaultText); v != "" {
		if err := disclosure.CheckText(v); err != nil {
			l.Fail("DISCLOSURE_TEXT", "%v", err)
		} else {
			s.Disclosure.Text = v
		}
	}
	if v := l.Str("DISCLOSURE_POSITION", string(disclosure.BottomRight)); v != "" {
		if p, err := disclosure.ParsePosition(v); err != nil {
			l.Fail("DISCLOSURE_POSITION", "%v", err)
		} else {
			s.Disclosure.Position = p
		}
	}
	l.Add(s.Validate())
	c.Server = s

	a := &c.Admission
	// Edits mostly wait on the provider, so many can run per core; the bound
	// is memory (see the README) and the providers' own quotas.
	a.MaxConcurrentEdits = l.IntRange("MAX_CONCURRENT_EDITS", max(8, 8*runtime.NumCPU()), 1, 100_000)
	a.EditQueueSize = l.IntRange("EDIT_QUEUE_SIZE", 2*a.MaxConcurrentEdits, 0, 1_000_000)
	a.EditQueueTimeout = l.Duration("EDIT_QUEUE_TIMEOUT", DefaultQueueTimeout)

	// 4096: the largest output of the current image models ("4K"); a larger
	// input adds bytes, not detail the model uses. A 12 MP phone photo
	// (4032x3024) fits, so it only loses its metadata.
	c.Edit = pipeline.Config{
		Prepare:       imaging.Options{MaxSide: l.IntRange("IMAGE_MAX_SIDE", DefaultImageMaxSide, 64, 16384)},
		UpstreamBytes: l.Bytes("UPSTREAM_MAX_BYTES", DefaultUpstreamBytes),
		DecodeMemory:  l.Bytes("DECODE_MEMORY_BUDGET", DefaultDecodeMemory),
		MaxPixels:     s.Limits.MaxPixels,
		SlotTimeout:   a.EditQueueTimeout,
		Disclosure:    s.Disclosure,
		Structure: pipeline.StructureConfig{
			On:        l.OneOf("STRUCTURE_CHECK", "on", "on", "off") == "on",
			Threshold: l.Float("STRUCTURE_THRESHOLD", structure.DefaultThreshold, 0.01, 1),
		},
	}

	j := &c.Jobs
	j.DataDir = l.Str("DATA_DIR", "data")
	j.DatabaseURL = Secret(l.Str("DATABASE_URL", ""))
	j.StorageURL = Secret(l.Str("STORAGE_URL", ""))
	j.SecretKey = Secret(l.Str("SECRET_KEY", ""))
	q := &j.Queue
	q.ResultTTL = l.Duration("RESULT_TTL", 168*time.Hour)
	q.Workers = l.IntRange("JOB_WORKERS", a.MaxConcurrentEdits, 1, 10_000)
	q.MaxAttempts = l.IntRange("JOB_MAX_ATTEMPTS", 3, 1, 20)
	q.RetryBackoff = l.Duration("JOB_RETRY_BACKOFF", time.Second)
	q.EditTimeout = s.EditTimeout
	q.RescueAfter = l.Duration("JOB_RESCUE_AFTER", s.EditTimeout+time.Minute)
	q.IdemWindow = min(24*time.Hour, q.ResultTTL)
	j.WebhookSecret = Secret(l.Str("WEBHOOK_SECRET", ""))
	if j.WebhookSecret != "" {
		// Checked here so a bad one is reported with the rest; the key
		// itself is read when the job store opens (webhook.LoadSecret).
		_, err := webhook.LoadSecret(string(j.WebhookSecret), "")
		l.Add(err)
	}
	q.Webhook.Schedule = l.Durations("WEBHOOK_RETRY_SCHEDULE", webhook.DefaultSchedule)
	q.Webhook.Timeout = l.Duration("WEBHOOK_TIMEOUT", webhook.DefaultTimeout)
	q.Webhook.AllowPrivate = l.Bool("WEBHOOK_ALLOW_PRIVATE", false)

	c.Shared.RedisURL = Secret(l.Str("REDIS_URL", ""))
	if c.Shared.RedisURL != "" {
		if _, err := redislimit.ParseURL(string(c.Shared.RedisURL)); err != nil {
			l.Fail("REDIS_URL", "%v", err)
		}
	}
	c.Shared.RedisFailure = redislimit.Failure(l.OneOf("REDIS_FAILURE", string(redislimit.FailLocal),
		string(redislimit.FailLocal), string(redislimit.FailOpen), string(redislimit.FailClosed)))

	c.HTTP.ReadHeaderTimeout = l.Duration("READ_HEADER_TIMEOUT", 10*time.Second)
	c.HTTP.ReadTimeout = l.Duration("READ_TIMEOUT", 2*time.Minute)
	c.Server.Upload.ReadTimeout = c.HTTP.ReadTimeout
	// The write deadline runs from the end of the request headers to the end
	// of the answer, so it must cover reading the upload and the whole edit.
	c.HTTP.WriteTimeout = l.Duration("WRITE_TIMEOUT", c.HTTP.ReadTimeout+s.EditTimeout+30*time.Second)
	c.HTTP.IdleTimeout = l.Duration("IDLE_TIMEOUT", 2*time.Minute)
	c.HTTP.ShutdownTimeout = l.Duration("SHUTDOWN_TIMEOUT", 30*time.Second)
	c.HTTP.DrainDelay = l.DurationOrZero("DRAIN_DELAY", 0)
	if c.HTTP.WriteTimeout <= s.EditTimeout {
		l.Fail("WRITE_TIMEOUT", "must be longer than EDIT_TIMEOUT (%s), or edits are cut off mid-answer", s.EditTimeout)
	}
	return c, l.Err()
}

// loadFallbacks reads PROVIDER_FALLBACKS and checks every name against the
// provider table, as a request's provider name would be resolved, so a typo
// stops start-up instead of silently never falling back.
func loadFallbacks(l *envconf.Reader, providers []Provider) []provider.Chain {
	const name = "PROVIDER_FALLBACKS"
	chains, err := provider.ParseChains(l.Str(name, ""))
	if err != nil {
		l.Fail(name, "%s", err.Error())
		return nil
	}
	entries := make([]provider.Entry, len(providers))
	for i, p := range providers {
		entries[i] = provider.Entry{Spec: p.Spec, Model: p.Setup.Model}
	}
	if _, err := provider.NewRegistry(entries...).WithFallbacks(chains); err != nil {
		l.Fail(name, "%s", err.Error())
		return nil
	}
	return chains
}

// LogValue is the effective configuration for the start-up log line, keys
// shown only as set or unset.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("addr", c.Addr()),
		slog.String("log_level", c.Log.Level.String()),
		slog.String("log_format", c.Log.Format),
		slog.Any("allowed_origins", c.Server.AllowedOrigins),
		slog.String("max_image_bytes", humanize.IBytes(uint64(c.Server.Limits.MaxImageBytes))),
		slog.String("max_request_bytes", humanize.IBytes(uint64(c.Server.Limits.MaxRequestBytes))),
		slog.Int("max_images", c.Server.Limits.MaxImages),
		slog.Int64("max_image_pixels", c.Server.Limits.MaxPixels),
		slog.Int("image_max_side", c.Edit.Prepare.MaxSide),
		slog.String("upstream_max_bytes", humanize.IBytes(uint64(c.Edit.UpstreamBytes))),
		slog.String("decode_memory_budget", humanize.IBytes(uint64(c.Edit.DecodeMemory))),
		slog.Duration("edit_timeout", c.Server.EditTimeout),
		slog.String("auth", string(c.Server.Auth)),
		slog.String("rate_limit_edit", c.Server.RateLimitEdit.String()),
		slog.String("rate_limit_default", c.Server.RateLimitDefault.String()),
		slog.Any("trusted_proxies", c.Server.TrustedProxies),
		slog.Any("provider_fallbacks", chainStrings(c.Fallbacks)),
		slog.Int("max_concurrent_edits", c.Admission.MaxConcurrentEdits),
		slog.Int("edit_queue_size", c.Admission.EditQueueSize),
		slog.Duration("edit_queue_timeout", c.Admission.EditQueueTimeout),
		slog.Duration("request_timeout", c.Server.RequestTimeout),
		slog.Duration("read_header_timeout", c.HTTP.ReadHeaderTimeout),
		slog.Duration("read_timeout", c.HTTP.ReadTimeout),
		slog.Duration("write_timeout", c.HTTP.WriteTimeout),
		slog.Duration("shutdown_timeout", c.HTTP.ShutdownTimeout),
		slog.Duration("drain_delay", c.HTTP.DrainDelay),
		slog.String("data_dir", c.Jobs.DataDir),
		slog.Any("database_url", c.Jobs.DatabaseURL),
		slog.Any("storage_url", c.Jobs.StorageURL),
		slog.Any("secret_key", c.Jobs.SecretKey),
		slog.Duration("result_ttl", c.Jobs.Queue.ResultTTL),
		slog.Int("job_workers", c.Jobs.Queue.Workers),
		slog.Int("job_max_attempts", c.Jobs.Queue.MaxAttempts),
		slog.Duration("job_retry_backoff", c.Jobs.Queue.RetryBackoff),
		slog.Duration("job_rescue_after", c.Jobs.Queue.RescueAfter),
		slog.Any("webhook_secret", c.Jobs.WebhookSecret),
		slog.Any("webhook_retry_schedule", durations(c.Jobs.Queue.Webhook.Schedule)),
		slog.Duration("webhook_timeout", c.Jobs.Queue.Webhook.Timeout),
		slog.Bool("webhook_allow_private", c.Jobs.Queue.Webhook.AllowPrivate),
		slog.Any("redis_url", c.Shared.RedisURL),
		slog.String("redis_failure", string(c.Shared.RedisFailure)),
	}
	for _, p := range c.Providers {
		attrs = append(attrs, slog.Group(p.ID, slog.Any("key", p.ServerKey), slog.Any("settings", p.Setup.Settings)))
	}
	return slog.GroupValue(attrs...)
}

func chainStrings(cs []provider.Chain) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.String()
	}
	return out
}

func durations(ds []time.Duration) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.String()
	}
	return out
}
