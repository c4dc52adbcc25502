package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// selfRedacting stands for the typed keys (frameforge.Key, config.Secret).
type selfRedacting string

func (selfRedacting) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// plainKey is the mistake the handler guards against: a credential in a
// named string type that does not redact itself.
type plainKey string

func TestFormats(t *testing.T) {
	t.Run("json", func(t *testing.T) {
		var buf bytes.Buffer
		New(&buf, "json", slog.LevelInfo).Info("edit done", "provider", "gemini", "bytes", 42)
		var line map[string]any
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatalf("json line %q: %v", buf.String(), err)
		}
		if line["msg"] != "edit done" || line["level"] != "INFO" || line["provider"] != "gemini" || line["bytes"] != 42.0 {
			t.Errorf("json line = %v; want msg, level, provider and bytes", line)
		}
		if _, ok := line["time"]; !ok {
			t.Errorf("json line %v has no time", line)
		}
	})
	for _, format := range []string{"text", "", "TEXT", "logfmt"} {
		t.Run("text for "+format, func(t *testing.T) {
			var buf bytes.Buffer
			New(&buf, format, slog.LevelInfo).Info("edit done", "provider", "gemini")
			got := buf.String()
			if !strings.Contains(got, `level=INFO msg="edit done" provider=gemini`) || strings.HasPrefix(got, "{") {
				t.Errorf("New(%q) wrote %q; want a text line", format, got)
			}
		})
	}
}

func TestLevel(t *testing.T) {
	tests := []struct {
		level slog.Level
		want  []string // messages written, of debug, info, warn, error
	}{
		{slog.LevelDebug, []string{"d", "i", "w", "e"}},
		{slog.LevelInfo, []string{"i", "w", "e"}},
		{slog.LevelWarn, []string{"w", "e"}},
		{slog.LevelError, []string{"e"}},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		log := New(&buf, "json", tt.level)
		log.Debug("d")
		log.Info("i")
		log.Warn("w")
		log.Error("e")
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			var line struct{ Msg string }
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			got = append(got, line.Msg)
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("level %s wrote %v; want %v", tt.level, got, tt.want)
		}
	}
}

func TestCredentialsAreRedacted(t *testing.T) {
	const secret = "AIzaSy-very-secret-0123456789"
	tests := []struct {
		name      string
		attr      slog.Attr
		wantValue any // what the line carries under the attribute's key
	}{
		{"api_key", slog.String("api_key", secret), "[redacted]"},
		{"mixed case", slog.String("X-Goog-API-Key", secret), "[redacted]"},
		{"authorization", slog.String("authorization", "Bearer "+secret), "[redacted]"},
		{"secret", slog.String("client_secret", secret), "[redacted]"},
		{"token", slog.String("access_token", secret), "[redacted]"},
		{"password", slog.String("password", secret), "[redacted]"},
		{"typed key", slog.Any("fal_key", selfRedacting(secret)), "[redacted]"},
		{"named string type", slog.Any("api_key", plainKey(secret)), "[redacted]"},
		{"bytes", slog.Any("token", []byte(secret)), "[redacted]"},
		{"stringer", slog.Any("secret", errors.New(secret)), "[redacted]"},
		{"empty stays empty", slog.String("api_key", ""), ""},
		{"other names pass", slog.String("provider", "gemini"), "gemini"},
		{"numbers pass", slog.Int("tokens", 12), 12.0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			New(&buf, "json", slog.LevelInfo).LogAttrs(context.Background(), slog.LevelInfo, "m", tt.attr)
			if strings.Contains(buf.String(), secret) {
				t.Fatalf("the credential reached the log: %s", buf.String())
			}
			var line map[string]any
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatal(err)
			}
			if got := line[tt.attr.Key]; got != tt.wantValue {
				t.Errorf("%s = %#v; want %#v", tt.attr.Key, got, tt.wantValue)
			}
		})
	}
}

func TestRedactionReachesGroupsAndText(t *testing.T) {
	const secret = "fal-secret-abcdef"
	var buf bytes.Buffer
	log := New(&buf, "text", slog.LevelInfo).With("request_id", "r1").WithGroup("upstream")
	log.Info("call", slog.Group("auth", slog.String("key", secret)), slog.String("X-Fal-Key", secret),
		slog.Any("err", errors.New("status 500")))
	got := buf.String()
	if strings.Contains(got, secret) {
		t.Fatalf("the credential reached the log: %s", got)
	}
	for _, want := range []string{"request_id=r1", "upstream.auth.key=[redacted]", "upstream.X-Fal-Key=[redacted]", `upstream.err="status 500"`} {
		if !strings.Contains(got, want) {
			t.Errorf("log %q lacks %q", got, want)
		}
	}
}
