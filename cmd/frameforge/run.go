package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/joho/godotenv"
	"github.com/redis/go-redis/v9"

	"frameforge"
	"frameforge/internal/admission"
	"frameforge/internal/auth"
	"frameforge/internal/blobstore"
	"frameforge/internal/config"
	"frameforge/internal/imaging"
	"frameforge/internal/jobs"
	"frameforge/internal/logging"
	"frameforge/internal/metrics"
	"frameforge/internal/pipeline"
	"frameforge/internal/presets"
	"frameforge/internal/provider"
	"frameforge/internal/ratelimit/redislimit"
	"frameforge/internal/secret"
	"frameforge/internal/server"
	"frameforge/internal/webhook"
)

// gcPercent is the garbage collector's target when GOGC is not set.
const gcPercent = 25

// run is the whole program; main only supplies the process's environment.
// When ready is not nil, the bound address is sent on it once the server
// accepts connections (tests listen on port 0).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, ready chan<- string) (err error) {
	fset := flag.NewFlagSet("frameforge", flag.ContinueOnError)
	fset.SetOutput(io.Discard) // errors are reported below, with the usage
	fset.Usage = func() {}
	envFile := fset.String("env-file", defaultEnvFile,
		"file of KEY=value lines read before the environment (the real environment wins); the default is optional, a named file must exist, \"\" reads none")
	showVersion := fset.Bool("version", false, "print the version, commit and build date, like the version command")
	defer func() {
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "frameforge: %s\n\n", ue.msg)
			printUsage(stderr, fset)
		}
	}()
	if err := fset.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout, fset)
			return nil
		}
		return usagef("%v", err)
	}
	if *showVersion {
		if fset.NArg() > 0 {
			return usagef("-version takes no arguments, got %q", strings.Join(fset.Args(), " "))
		}
		_, err := fmt.Fprintln(stdout, readVersion().String())
		return err
	}
	explicitEnvFile := false
	fset.Visit(func(f *flag.Flag) { explicitEnvFile = explicitEnvFile || f.Name == "env-file" })
	// load reads the configuration once, for the server or for a command.
	var envRead string
	load := func() (config.Config, error) {
		env, read, err := withEnvFile(getenv, *envFile, explicitEnvFile)
		envRead = read
		if err != nil {
			return config.Config{}, err
		}
		cfg, err := config.Load(env)
		if err != nil {
			// One line, naming every bad variable.
			return cfg, fmt.Errorf("invalid configuration: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
		}
		return cfg, nil
	}
	if fset.NArg() > 0 {
		name := fset.Arg(0)
		for _, c := range commands() {
			if c.name == name {
				err := c.run(invocation{ctx: ctx, args: fset.Args()[1:], config: load, stdout: stdout, stderr: stderr})
				if errors.Is(err, flag.ErrHelp) {
					return nil
				}
				return err
			}
		}
		return usagef("unknown command %q", name)
	}

	if getenv("GOGC") == "" {
		// The heap is mostly image bytes, which the collector does not
		// scan, so collecting at +25 % instead of the default +100 % costs
		// little CPU, and the peak is near the bytes in flight rather than
		// twice them: at +100 % (or +50 %) a burst of 200 edits peaked at
		// 2× (1.5×) its uploads (bench/run.sh, docs/performance.md). The
		// runtime reads GOGC and GOMEMLIMIT from the real environment; an
		// operator's choice wins. While the live heap is small, the
		// collector is given at least minHeadroom (tuneGC).
		debug.SetGCPercent(gcPercent)
		defer tuneGC()()
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	// Log lines leave through one writer goroutine, off the request path
	// (logging.Writer); whatever is pending goes out before run returns.
	logOut := logging.NewWriter(stdout)
	defer logOut.Close()
	log := logging.New(logOut, cfg.Log.Format, cfg.Log.Level)

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	hc := newHTTPClient()
	var entries []provider.Entry
	for _, p := range cfg.Providers {
		entries = append(entries, provider.Entry{Spec: p.Spec, Provider: p.Setup.New(hc, log),
			ServerKey: string(p.ServerKey), Model: p.Setup.Model})
	}
	reg, err := provider.NewRegistry(entries...).WithFallbacks(cfg.Fallbacks)
	if err != nil { // config.Load checked them: not expected
		return fmt.Errorf("invalid configuration: PROVIDER_FALLBACKS: %w", err)
	}
	a := cfg.Admission
	gate := admission.New(a.MaxConcurrentEdits, a.EditQueueSize, a.EditQueueTimeout)
	// After a burst of edits the heap is mostly dead uploads. Left alone,
	// the GC would not look at them until the heap doubled again, so the
	// next burst would stack its uploads on top of the last one's (peak RSS
	// twice the bytes in flight, measured): collect as soon as the gate is
	// briefly idle (cheap, the live heap is small then). And once it has
	// been idle a while, give the memory back to the OS too, so RSS goes
	// back near its idle figure.
	gate.OnIdle(200*time.Millisecond, runtime.GC)
	gate.OnIdle(5*time.Second, debug.FreeOSMemory)
	m := metrics.New(metrics.Gauges{EditsRunning: gate.Running, EditsWaiting: gate.Waiting})
	pipe := pipeline.New(cfg.Edit, gate, m, log)
	engine, err := openJobs(ctx, cfg.Jobs, reg, pipe, m, log)
	if err != nil {
		return err
	}
	// Tokens live in the jobs' database, on its connection.
	tokens, err := auth.Open(ctx, engine.DB(), engine.Kind())
	if err != nil {
		return err
	}
	engine.UseQuota(tokens)
	limiter, closeLimits, err := openRateLimits(ctx, cfg.Shared, m, log)
	if err != nil {
		return err
	}
	defer closeLimits()
	var draining atomic.Bool
	handler := server.NewServer(log, cfg.Server, server.Deps{
		Registry:    reg,
		Pipeline:    pipe,
		Metrics:     m,
		Draining:    draining.Load,
		Jobs:        engine.Service,
		Presets:     presets.Default(),
		Tokens:      tokens,
		RateLimiter: limiter,
	})

	// In-flight requests derive from base; cancelling it after a drain that
	// ran out of time cancels their upstream calls too.
	base, cancelBase := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelBase(nil)
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr(), err)
	}
	log.Info("frameforge starting", "version", readVersion().String(), "env_file", envRead, "config", cfg)
	logProviderKeys(log, cfg.Providers)
	log.Info("API tokens "+map[auth.Mode]string{auth.Required: "required", auth.Off: "not required"}[cfg.Server.Auth],
		"auth", cfg.Server.Auth, "why", cfg.AuthReason)
	for _, c := range reg.Chains() {
		for _, name := range c[1:] {
			if r, _ := reg.Resolve(name, nil); r.Key.Empty() {
				log.Warn("a provider of a fallback chain has no server key: it takes part only in requests that send their own key for it",
					"chain", c.String(), "provider", name)
			}
		}
	}
	if err := engine.Start(base); err != nil {
		return fmt.Errorf("start the job queue: %w", err)
	}
	log.Info("job queue started", "store", engine.Kind(), "workers", cfg.Jobs.Queue.Workers)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(server.JSONErrors(ln)) }()
	log.Info("listening", "addr", "http://"+ln.Addr().String())
	// The HEIC and AVIF decoders compile their WebAssembly once per
	// process: do it now, not in the first iPhone photo's request, but
	// only once the server listens: it is most of a second of CPU, which
	// on two cores doubled the time to the first answer
	// (docs/performance.md, "Start-up").
	go imaging.WarmUp()
	if ready != nil {
		ready <- ln.Addr().String()
	}

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	stop() // a second signal now kills the process the default way
	draining.Store(true)
	if d := cfg.HTTP.DrainDelay; d > 0 {
		// Behind a load balancer: keep serving, with /api/ready at 503, until
		// its probes have noticed and it sends no new work here.
		log.Info("draining: /api/ready answers 503 while new requests are still served", "drain_delay", d)
		time.Sleep(d)
	}
	log.Info("shutting down: no new connections, draining in-flight requests", "timeout", cfg.HTTP.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Cancel what is still running (and its upstream calls); each
		// request then answers 503 interrupted, for which it gets a moment
		// before the connections are closed.
		log.Warn("drain timed out: cancelling the requests still running", "err", err)
		cancelBase(frameforge.ErrShuttingDown)
		fctx, fcancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer fcancel()
		if srv.Shutdown(fctx) != nil {
			_ = srv.Close()
		}
	}
	// Running jobs get what is left of the drain time, then are put back
	// for the next start (nothing is lost either way).
	jctx, jcancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer jcancel()
	if err := engine.Stop(jctx); err != nil {
		log.Warn("job queue stop", "err", err)
	}
	log.Info("stopped")
	return nil
}

// defaultEnvFile is read when it exists; -env-file names another.
const defaultEnvFile = ".env"

// withEnvFile layers an env file under the real environment, so a variable
// set in the environment always wins over the file. The default .env may be
// missing; a file the operator named (explicit) must exist, or a typo would
// silently start the server without its settings. path "" reads no file.
// read says which file was read, for the start-up log.
func withEnvFile(getenv func(string) string, path string, explicit bool) (env func(string) string, read string, err error) {
	if path == "" {
		return getenv, "none (-env-file \"\")", nil
	}
	vals, err := godotenv.Read(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return getenv, "none (no " + path + " in the working directory)", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("env file: %w", err)
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return func(k string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return vals[k]
	}, path, nil
}

// logProviderKeys says, per provider, where its server key came from, or
// that it has none and so answers keyless requests with the development
// fallback. Each line names the provider in its message: with only
// GOOGLE_API_KEY set, fal's warning must not read as if the Google key was
// not picked up.
func logProviderKeys(log *slog.Logger, providers []config.Provider) {
	for _, p := range providers {
		if p.ServerKey != "" {
			log.Info(fmt.Sprintf("%s: server key from %s", p.Label, p.KeyFrom), "provider", p.ID)
			continue
		}
		log.Warn(fmt.Sprintf("%s has no server key (none of %s is set): %s requests without their own key get the development fallback (the first image back unchanged)",
			p.Label, strings.Join(p.KeyEnv, ", "), p.ID), "provider", p.ID)
	}
}

// newHTTPClient is the one client for every upstream call. Per-call deadlines
// come from contexts; the transport is sized for many concurrent edits to
// the same provider host (the default keeps only 2 idle connections per host).
func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	t.ResponseHeaderTimeout = 0 // image generation can take minutes before the first byte
	t.TLSHandshakeTimeout = 10 * time.Second
	return &http.Client{Transport: t}
}

// openJobs opens the job engine and what it stands on: DATA_DIR, the blob
// store, the server secret that seals per-request keys.
func openJobs(ctx context.Context, c config.Jobs, reg *provider.Registry, pipe *pipeline.Pipeline, m *metrics.Metrics, log *slog.Logger) (*jobs.Engine, error) {
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("DATA_DIR: %w", err)
	}
	blobs, err := blobstore.Open(ctx, string(c.StorageURL), c.DataDir)
	if err != nil {
		return nil, fmt.Errorf("STORAGE_URL: %w", err)
	}
	key, err := secret.Load(string(c.SecretKey), c.DataDir, "secret_key")
	if err != nil {
		return nil, fmt.Errorf("SECRET_KEY: %w", err)
	}
	sealer, err := secret.NewSealer(key)
	if err != nil {
		return nil, err
	}
	if c.Queue.Webhook.Secret, err = webhook.LoadSecret(string(c.WebhookSecret), c.DataDir); err != nil {
		return nil, err
	}
	engine, err := jobs.Open(ctx, string(c.DatabaseURL), c.DataDir, c.Queue, jobs.Deps{
		Registry: reg, Pipeline: pipe, Blobs: blobs, Sealer: sealer, Log: log, Register: m.Register,
	})
	if err != nil {
		return nil, fmt.Errorf("job store: %w", err)
	}
	log.Info("job store open", "store", engine.Kind(), "blobs", blobs.String(), "data_dir", c.DataDir)
	return engine, nil
}

// openRateLimits shares the per-client rate budgets through Redis when
// REDIS_URL is set (nil otherwise: in-process, per replica). A Redis
// that is down at start-up does not stop the replica: the failure policy
// applies until it answers, and the log says which policy that is.
func openRateLimits(ctx context.Context, c config.Shared, m *metrics.Metrics, log *slog.Logger) (server.RateLimiter, func(), error) {
	if c.RedisURL == "" {
		log.Info("rate limits: in-process, per replica (set REDIS_URL to share them across replicas)")
		return nil, func() {}, nil
	}
	redis.SetLogger(redislimit.Logger{Log: log}) // go-redis's one logger per process
	g, err := redislimit.Open(string(c.RedisURL), c.RedisFailure, log)
	if err != nil {
		return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	if err := m.Register(g.Collectors()...); err != nil {
		g.Close()
		return nil, nil, err
	}
	if err := g.Ping(ctx); err != nil {
		log.Warn("rate limits: shared through Redis, which does not answer yet; "+c.RedisFailure.Effect(),
			"redis_failure", string(c.RedisFailure), "err", err)
	} else {
		log.Info("rate limits: shared through Redis by every replica", "redis_failure", string(c.RedisFailure),
			"if_redis_fails", c.RedisFailure.Effect())
	}
	return g, func() { g.Close() }, nil
}

// printWebhookSecret prints the secret receivers verify deliveries with:
// WEBHOOK_SECRET, or the one generated into DATA_DIR (created now if this
// runs before the first start, so both agree).
func printWebhookSecret(c config.Jobs, stdout io.Writer) error {
	key, err := webhook.LoadSecret(string(c.WebhookSecret), c.DataDir)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, webhook.FormatSecret(key))
	return err
}
