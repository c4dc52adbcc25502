// Package logging builds the process logger: text for a terminal, JSON when
// asked, with a last line of defence against credentials in log attributes.
package logging

import (
	"io"
	"log/slog"
	"strings"
)

// New returns a logger writing to w in the given format ("text" or "json").
func New(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: redact}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// redact blanks attributes whose name says they hold a credential. Keys are
// typed (frameforge.Key, config.Secret) and redact themselves; this catches
// the mistake of logging one as a plain string, or as a value the handler
// prints with fmt (a named string type, []byte, a Stringer), which would
// show the credential just the same. Numbers, booleans and times pass: they
// cannot hold one.
func redact(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.LevelKey {
		// The record's level cannot hold a credential. With a ReplaceAttr
		// set, slog hands it over as an Any, which the JSON handler would
		// write through encoding/json (reflection, allocations) on every
		// line: as its own name it is the same "INFO" for a fraction of
		// the cost (docs/performance.md, "The fast path").
		if l, ok := a.Value.Any().(slog.Level); ok {
			return slog.String(a.Key, l.String())
		}
		return a
	}
	switch a.Value.Kind() {
	case slog.KindString:
		if a.Value.String() == "" {
			return a
		}
	case slog.KindAny:
	default:
		return a
	}
	k := strings.ToLower(a.Key)
	for _, s := range []string{"key", "authorization", "secret", "token", "password"} {
		if strings.Contains(k, s) && !(a.Value.Kind() == slog.KindString && a.Value.String() == "[redacted]") {
			return slog.String(a.Key, "[redacted]")
		}
	}
	return a
}
