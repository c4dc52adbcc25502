// Package envconf reads configuration variables and collects every problem,
// each naming its variable, so a bad start-up reports all of them at once.
// The config package reads the server's settings with it, and each provider
// package reads its own, so adding a provider adds no line to config.
package envconf

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"frameforge/internal/ratelimit"
)

// New returns a reader over getenv.
func New(getenv func(string) string) *Reader { return &Reader{getenv: getenv} }

// Err returns every problem found so far, one line each (errors.Join), or nil.
func (l *Reader) Err() error { return errors.Join(l.errs...) }

// Add records problems found elsewhere (a package's own Validate).
func (l *Reader) Add(err error) {
	if err != nil {
		l.errs = append(l.errs, err)
	}
}

// Set reports whether the variable has a non-blank value.
func (l *Reader) Set(name string) bool { return strings.TrimSpace(l.getenv(name)) != "" }

// Reader parses variables and collects every problem. Each method returns
// the default when the variable is unset or bad (and records why).
type Reader struct {
	getenv func(string) string
	errs   []error
}

// Fail records a problem with the variable name.
func (l *Reader) Fail(name, format string, args ...any) {
	l.errs = append(l.errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
}

// Str reads a trimmed string.
func (l *Reader) Str(name, def string) string {
	if v := strings.TrimSpace(l.getenv(name)); v != "" {
		return v
	}
	return def
}

// Int reads a whole number; its range is the caller's to check.
func (l *Reader) Int(name string, def int) int {
	v := l.Str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		l.Fail(name, "must be a whole number, got %q", v)
		return def
	}
	return n
}

// IntRange reads a whole number from lo to hi.
func (l *Reader) IntRange(name string, def, lo, hi int) int {
	n := l.Int(name, def)
	if n < lo || n > hi {
		l.Fail(name, "must be a whole number from %d to %d, got %q", lo, hi, l.Str(name, ""))
		return def
	}
	return n
}

// OneOf reads one of the allowed words, case-insensitively.
func (l *Reader) OneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(l.Str(name, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	l.Fail(name, "must be one of %s, got %q", strings.Join(allowed, ", "), v)
	return def
}

// Level reads a log level.
func (l *Reader) Level(name string, def slog.Level) slog.Level {
	v := l.Str(name, "")
	if v == "" {
		return def
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(v)); err != nil {
		l.Fail(name, "must be debug, info, warn or error, got %q", v)
		return def
	}
	return lv
}

// Duration reads a positive Go duration.
func (l *Reader) Duration(name string, def time.Duration) time.Duration {
	v := l.Str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		l.Fail(name, "must be a positive Go duration such as 90s or 5m, got %q", v)
		return def
	}
	return d
}

// DurationOrZero reads a Go duration that may be 0 (for "none").
func (l *Reader) DurationOrZero(name string, def time.Duration) time.Duration {
	v := l.Str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		l.Fail(name, "must be a Go duration such as 5s, or 0, got %q", v)
		return def
	}
	return d
}

// Bytes accepts a plain number of bytes or a size such as 25MB or 25MiB.
func (l *Reader) Bytes(name string, def int64) int64 {
	v := l.Str(name, "")
	if v == "" {
		return def
	}
	n, err := humanize.ParseBytes(v)
	if err != nil || n == 0 || n > 1<<40 {
		l.Fail(name, "must be a size such as 25MiB or 26214400, got %q", v)
		return def
	}
	return int64(n)
}

// Pixels accepts a plain number or megapixels such as 100MP.
func (l *Reader) Pixels(name string, def int64) int64 {
	v := l.Str(name, "")
	if v == "" {
		return def
	}
	mult := 1.0
	if s, ok := strings.CutSuffix(strings.ToUpper(v), "MP"); ok {
		v, mult = strings.TrimSpace(s), 1e6
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f*mult < 1 || f*mult > 1e10 {
		l.Fail(name, "must be a pixel count such as 100000000 or 100MP, got %q", l.getenv(name))
		return def
	}
	return int64(f * mult)
}

// Origins accepts a JSON array (compat: ["http://localhost:5173"]) or a
// comma-separated list. Each entry is "*" or scheme://host[:port].
func (l *Reader) Origins(name string, def []string) []string {
	v := l.Str(name, "")
	if v == "" {
		return def
	}
	var list []string
	if strings.HasPrefix(v, "[") {
		if err := json.Unmarshal([]byte(v), &list); err != nil {
			l.Fail(name, "is not a valid JSON array of strings: %v", err)
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
				l.Fail(name, "%q is not an origin such as https://app.example.com", o)
				continue
			}
		}
		out = append(out, o)
	}
	if len(out) == 0 {
		l.Fail(name, "lists no origins")
		return def
	}
	return out
}

// Rule reads a rate-limit rule.
func (l *Reader) Rule(name string, def ratelimit.Rule) ratelimit.Rule {
	v := l.Str(name, "")
	if v == "" {
		return def
	}
	r, err := ratelimit.ParseRule(v)
	if err != nil {
		l.Fail(name, "%v", err)
		return def
	}
	return r
}

// Prefixes reads a comma list of CIDRs or single addresses.
func (l *Reader) Prefixes(name string) []netip.Prefix {
	var out []netip.Prefix
	for _, f := range strings.Split(l.Str(name, ""), ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				l.Fail(name, "%q is not a CIDR such as 10.0.0.0/8 or an address", f)
				continue
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out
}

// Float reads a number within [lo, hi].
func (l *Reader) Float(name string, def, lo, hi float64) float64 {
	v := l.Str(name, "")
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || f < lo || f > hi {
		l.Fail(name, "must be a number from %g to %g, got %q", lo, hi, v)
		return def
	}
	return f
}

// Bool reads true or false (and the other spellings strconv.ParseBool
// knows).
func (l *Reader) Bool(name string, def bool) bool {
	v := l.Str(name, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		l.Fail(name, "must be true or false, got %q", v)
		return def
	}
	return b
}

// Durations reads a comma-separated list of positive Go durations.
func (l *Reader) Durations(name string, def []time.Duration) []time.Duration {
	v := l.Str(name, "")
	if v == "" {
		return def
	}
	var out []time.Duration
	for f := range strings.SplitSeq(v, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil || d <= 0 {
			l.Fail(name, "must be comma-separated positive Go durations such as 5s,5m,30m, got %q", v)
			return def
		}
		out = append(out, d)
	}
	return out
}
