package config

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsWithEmptyEnvironment(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatalf("Load(empty) error: %v", err)
	}
	if c.Addr() != "127.0.0.1:8000" {
		t.Errorf("Addr() = %q; want 127.0.0.1:8000", c.Addr())
	}
	if c.Gemini.Model != "gemini-3.1-flash-image" {
		t.Errorf("model = %q; want a current GA model gemini-3.1-flash-image", c.Gemini.Model)
	}
	if got := strings.Join(c.Server.AllowedOrigins, ","); got != "*" {
		t.Errorf("origins = %q; want *", got)
	}
	if c.Server.EditTimeout != 5*time.Minute || c.Server.RequestTimeout != 30*time.Second {
		t.Errorf("timeouts = %s/%s; want 5m/30s", c.Server.EditTimeout, c.Server.RequestTimeout)
	}
	// A phone photo of 48 MP and 15 MB must pass the default limits.
	if c.Server.Limits.MaxPixels < 48_000_000 || c.Server.Limits.MaxImageBytes < 15<<20 {
		t.Errorf("limits %+v refuse a 48 MP / 15 MB phone photo", c.Server.Limits)
	}
	if c.GoogleKey != "" || c.FalKey != "" {
		t.Error("keys set from an empty environment")
	}
}

func TestValues(t *testing.T) {
	c, err := Load(env(map[string]string{
		"SERVER_HOST": "0.0.0.0", "PORT": "9000",
		"GEMINI_API_KEY": "gem", "FAL_KEY": "id:secret",
		"ALLOWED_ORIGINS":  `["http://localhost:5173", "https://app.example.com/"]`,
		"MAX_IMAGE_BYTES":  "10MiB",
		"MAX_IMAGE_PIXELS": "50MP",
		"EDIT_TIMEOUT":     "90s",
		"LOG_LEVEL":        "debug", "LOG_FORMAT": "JSON",
		"GEMINI_BASE_URL": "http://127.0.0.1:1234/",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr() != "0.0.0.0:9000" {
		t.Errorf("Addr() = %q; want 0.0.0.0:9000 from PORT", c.Addr())
	}
	if c.GoogleKey != "gem" || c.FalKey != "id:secret" {
		t.Errorf("keys not read")
	}
	if got := strings.Join(c.Server.AllowedOrigins, ","); got != "http://localhost:5173,https://app.example.com" {
		t.Errorf("origins = %q", got)
	}
	if c.Server.Limits.MaxImageBytes != 10<<20 || c.Server.Limits.MaxPixels != 50_000_000 {
		t.Errorf("limits = %+v", c.Server.Limits)
	}
	if c.Server.EditTimeout != 90*time.Second || c.Log.Level != slog.LevelDebug || c.Log.Format != "json" {
		t.Errorf("edit timeout %s, level %s, format %s", c.Server.EditTimeout, c.Log.Level, c.Log.Format)
	}
	if c.Gemini.BaseURL != "http://127.0.0.1:1234/" {
		t.Errorf("gemini base url = %q", c.Gemini.BaseURL)
	}
}

func TestPrecedence(t *testing.T) {
	c, _ := Load(env(map[string]string{"GOOGLE_API_KEY": "g", "GEMINI_API_KEY": "x", "SERVER_PORT": "8001", "PORT": "9000",
		"ALLOWED_ORIGINS": "http://a.example, http://b.example"}))
	if c.GoogleKey != "g" || c.Port != 8001 {
		t.Errorf("GOOGLE_API_KEY and SERVER_PORT must win: key %v port %d", c.GoogleKey == "g", c.Port)
	}
	if len(c.Server.AllowedOrigins) != 2 {
		t.Errorf("comma list origins = %q", c.Server.AllowedOrigins)
	}
}

func TestBadValuesNameTheirVariable(t *testing.T) {
	tests := []struct{ name, value string }{
		{"SERVER_PORT", "eighty"},
		{"SERVER_PORT", "70000"},
		{"ALLOWED_ORIGINS", `["http://ok.example",`},
		{"ALLOWED_ORIGINS", "not a url"},
		{"ALLOWED_ORIGINS", "http://x.example/path"},
		{"GEMINI_BASE_URL", "localhost:1234"},
		{"FAL_QUEUE_URL", "ftp://queue"},
		{"FAL_REST_URL", "::"},
		{"OPENAI_BASE_URL", "api.openai.com"},
		{"MAX_IMAGE_BYTES", "lots"},
		{"MAX_IMAGES", "0"},
		{"MAX_IMAGE_PIXELS", "-5"},
		{"EDIT_TIMEOUT", "5 minutes"},
		{"REQUEST_TIMEOUT", "-1s"},
		{"LOG_LEVEL", "chatty"},
		{"LOG_FORMAT", "xml"},
		{"SHUTDOWN_TIMEOUT", "soon"},
	}
	for _, tt := range tests {
		_, err := Load(env(map[string]string{tt.name: tt.value}))
		if err == nil || !strings.HasPrefix(err.Error(), tt.name+":") {
			t.Errorf("Load(%s=%q) error = %v; want one naming %s", tt.name, tt.value, err, tt.name)
		}
	}
	_, err := Load(env(map[string]string{"SERVER_PORT": "x", "LOG_LEVEL": "y"}))
	if err == nil || !strings.Contains(err.Error(), "SERVER_PORT") || !strings.Contains(err.Error(), "LOG_LEVEL") {
		t.Errorf("two bad variables: error %v; want both reported at once", err)
	}
}

func TestLogValueRedactsKeys(t *testing.T) {
	c, _ := Load(env(map[string]string{"GOOGLE_API_KEY": "AIzaSECRET", "FAL_KEY": "id:FALSECRET"}))
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("start", "config", c)
	if out := b.String(); strings.Contains(out, "SECRET") || !strings.Contains(out, "google_api_key=[redacted]") {
		t.Errorf("log line leaks or hides the wrong thing: %s", out)
	}
}

func TestProviderSettingsAreCheckedByTheProvider(t *testing.T) {
	for _, tt := range []struct{ name, value string }{
		{"GEMINI_BASE_URL", "https://user:pw@example.com/"}, // the Gemini provider refuses credentials in the URL
		{"GOOGLE_MODEL_ID", "gemini?x=1"},
		{"GEMINI_MAX_ATTEMPTS", "11"},
		{"GEMINI_MAX_ATTEMPTS", "three"},
		{"FAL_RUN_URL", "queue"},
	} {
		_, err := Load(env(map[string]string{tt.name: tt.value}))
		if err == nil || !strings.HasPrefix(err.Error(), tt.name+":") || strings.Count(err.Error(), tt.name+":") != 1 {
			t.Errorf("Load(%s=%q) error = %v; want exactly one line naming %s", tt.name, tt.value, err, tt.name)
		}
	}
}
