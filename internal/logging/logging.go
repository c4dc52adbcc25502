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
func redact(_ []string, a slog.Attr) slog.Attr {
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
