package upstream

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"frameforge"
)

// Outcome is the classification of one failed attempt.
type Outcome struct {
	Err   *frameforge.Error
	Retry bool          // worth another attempt
	Hint  time.Duration // the server's own wait (RetryInfo, Retry-After), 0 when absent
	Label string        // for the attempt's log line: HTTP status or error class
}

// Retrier is the retry loop of the providers that answer in one call
// (Gemini, OpenAI; fal's queue has its own): exactly one layer retries, and
// it is this one (docs/providers.md).
type Retrier struct {
	Provider                string // names the log lines: "gemini attempt", "gemini edit failed"
	Log                     *slog.Logger
	MaxAttempts             int
	BaseBackoff, MaxBackoff time.Duration
	// Sleep waits d or until ctx ends (then it returns ctx's error); nil is
	// Sleep. Tests replace it to check backoffs without waiting them out.
	Sleep func(ctx context.Context, d time.Duration) error
	// Classify maps a failed call's error while ctx is still live.
	Classify func(err error, model string, key frameforge.Key) Outcome
	// Ended maps the end of ctx, given the last call's error.
	Ended func(ctx context.Context, last error, secret string) *frameforge.Error
}

// Do runs attempt until it returns an image, or an unusable answer (bad,
// its error not retried: the same request gets the same answer), or a
// call error that is not worth retrying, or the attempts, the longest wait
// or ctx run out. Every attempt is logged at debug level, a failed edit
// once as a warning (as information when the client hung up).
func (r Retrier) Do(ctx context.Context, model string, key frameforge.Key,
	attempt func() (img frameforge.Image, bad *frameforge.Error, err error)) (frameforge.Image, error) {
	fail := func(n int, fe *frameforge.Error) (frameforge.Image, error) {
		r.logFailure(ctx, model, n, fe)
		return frameforge.Image{}, fe
	}
	sleep := r.Sleep
	if sleep == nil {
		sleep = Sleep
	}
	for n := 1; ; n++ {
		start := time.Now()
		img, bad, err := attempt()
		dur := time.Since(start)

		if err == nil {
			if bad != nil {
				r.logAttempt(ctx, model, n, "200 "+bad.Code, dur)
				return fail(n, bad)
			}
			r.logAttempt(ctx, model, n, "ok", dur)
			return img, nil
		}
		if ctx.Err() != nil {
			r.logAttempt(ctx, model, n, "context: "+ctx.Err().Error(), dur)
			return fail(n, r.Ended(ctx, err, key.Reveal()))
		}

		o := r.Classify(err, model, key)
		r.logAttempt(ctx, model, n, o.Label, dur)
		if !o.Retry || n >= r.MaxAttempts {
			return fail(n, o.Err)
		}
		wait := Backoff(n, r.BaseBackoff, r.MaxBackoff, o.Hint)
		if wait > r.MaxBackoff {
			// The server asked for a longer pause than we ever wait.
			return fail(n, o.Err)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= wait {
			// Waiting would spend the rest of the budget: answer now with
			// what we know rather than with a timeout later.
			return fail(n, o.Err)
		}
		if sleep(ctx, wait) != nil {
			return fail(n, r.Ended(ctx, err, key.Reveal()))
		}
	}
}

func (r Retrier) logAttempt(ctx context.Context, model string, attempt int, outcome string, dur time.Duration) {
	r.Log.DebugContext(ctx, r.Provider+" attempt",
		slog.String("model", model),
		slog.Int("attempt", attempt),
		slog.String("outcome", outcome),
		slog.Duration("duration", dur))
}

// logFailure reports a failed edit once. The cause's text is redacted and
// bounded (see Failure); a client hanging up is not worth a warning.
func (r Retrier) logFailure(ctx context.Context, model string, attempts int, fe *frameforge.Error) {
	level := slog.LevelWarn
	if errors.Is(fe, context.Canceled) {
		level = slog.LevelInfo
	}
	var text string
	if fe.Err != nil {
		text = fe.Err.Error()
	}
	r.Log.Log(ctx, level, r.Provider+" edit failed",
		slog.String("model", model),
		slog.Int("attempts", attempts),
		slog.String("code", fe.Code),
		slog.String("err", text))
}
