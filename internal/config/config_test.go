package config

import (
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"frameforge/internal/auth"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// provider returns the configured provider with that id.
func (c Config) provider(t *testing.T, id string) Provider {
	t.Helper()
	for _, p := range c.Providers {
		if p.ID == id {
			return p
		}
	}
	t.Fatalf("no provider %q in %v", id, c.Providers)
	return Provider{}
}

func TestDefaultsWithEmptyEnvironment(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatalf("Load(empty) error: %v", err)
	}
	if c.Addr() != "127.0.0.1:8000" {
		t.Errorf("Addr() = %q; want 127.0.0.1:8000", c.Addr())
	}
	if m := c.provider(t, "google").Setup.Model; m != "gemini-3.1-flash-image" {
		t.Errorf("model = %q; want a current GA model gemini-3.1-flash-image", m)
	}
	if got := strings.Join(c.Server.AllowedOrigins, ","); got != "*" {
		t.Errorf("origins = %q; want *", got)
	}
	if c.Server.EditTimeout != 5*time.Minute || c.Server.RequestTimeout != 30*time.Second {
		t.Errorf("timeouts = %s/%s; want 5m/30s", c.Server.EditTimeout, c.Server.RequestTimeout)
	}
	if !c.Edit.Structure.On || c.Edit.Structure.Threshold != 0.55 {
		t.Errorf("structure check %+v; want on at 0.55", c.Edit.Structure)
	}
	// A phone photo of 48 MP and 15 MB must pass the default limits.
	if c.Server.Limits.MaxPixels < 48_000_000 || c.Server.Limits.MaxImageBytes < 15<<20 {
		t.Errorf("limits %+v refuse a 48 MP / 15 MB phone photo", c.Server.Limits)
	}
	for _, p := range c.Providers {
		if p.ServerKey != "" {
			t.Errorf("%s key set from an empty environment", p.ID)
		}
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
	if c.provider(t, "google").ServerKey != "gem" || c.provider(t, "fal").ServerKey != "id:secret" {
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
	if s := c.provider(t, "google").Setup.Settings.String(); !strings.Contains(s, "base_url=http://127.0.0.1:1234/") {
		t.Errorf("gemini settings = %s; want base_url from GEMINI_BASE_URL", s)
	}
}

func TestPrecedence(t *testing.T) {
	c, _ := Load(env(map[string]string{"GOOGLE_API_KEY": "g", "GEMINI_API_KEY": "x", "SERVER_PORT": "8001", "PORT": "9000",
		"ALLOWED_ORIGINS": "http://a.example, http://b.example"}))
	if c.provider(t, "google").ServerKey != "g" || c.Port != 8001 {
		t.Errorf("GOOGLE_API_KEY and SERVER_PORT must win: key %v port %d", c.provider(t, "google").ServerKey == "g", c.Port)
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
		{"MAX_IMAGE_BYTES", "128MiB"}, // over MAX_REQUEST_BYTES' default: the limits are checked against each other
		{"DECODE_MEMORY_BUDGET", "much"},
		{"MAX_IMAGE_BYTES", "lots"},
		{"MAX_IMAGES", "0"},
		{"MAX_IMAGE_PIXELS", "-5"},
		{"EDIT_TIMEOUT", "5 minutes"},
		{"REQUEST_TIMEOUT", "-1s"},
		{"LOG_LEVEL", "chatty"},
		{"LOG_FORMAT", "xml"},
		{"SHUTDOWN_TIMEOUT", "soon"},
		{"STRUCTURE_CHECK", "maybe"},
		{"STRUCTURE_THRESHOLD", "2"},
		{"STRUCTURE_THRESHOLD", "high"},
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
	if out := b.String(); strings.Contains(out, "SECRET") || !strings.Contains(out, "google.key=[redacted]") || !strings.Contains(out, "fal.key=[redacted]") {
		t.Errorf("log line leaks or hides the wrong thing: %s", out)
	}
}

func TestProviderSettingsAreCheckedByTheProvider(t *testing.T) {
	for _, tt := range []struct{ name, value string }{
		{"GEMINI_BASE_URL", "https://user:pw@example.com/"}, // the Gemini provider refuses credentials in the URL
		{"GOOGLE_MODEL_ID", "gemini?x=1"},
		{"GEMINI_MAX_ATTEMPTS", "11"},
		{"GEMINI_MAX_ATTEMPTS", "three"},
		{"GEMINI_BASE_BACKOFF", "soon"},
		{"GEMINI_MAX_BACKOFF", "1ms"}, // below the base backoff
		{"FAL_POLL_INITIAL", "0s"},
		{"FAL_POLL_MAX", "1ms"}, // below the first poll wait
		{"FAL_UPLOAD_THRESHOLD", "big"},
	} {
		_, err := Load(env(map[string]string{tt.name: tt.value}))
		if err == nil || !strings.HasPrefix(err.Error(), tt.name+":") || strings.Count(err.Error(), tt.name+":") != 1 {
			t.Errorf("Load(%s=%q) error = %v; want exactly one line naming %s", tt.name, tt.value, err, tt.name)
		}
	}
}

// TestDocumentedVariablesAreRead: every variable the README's configuration
// table, the environment reference in docs/deploy.md or .env.example names
// is one Load reads, and every variable Load reads is in the README and in
// docs/deploy.md: the documentation tells the truth both ways.
func TestDocumentedVariablesAreRead(t *testing.T) {
	read := map[string]bool{}
	if _, err := Load(func(k string) string { read[k] = true; return "" }); err != nil {
		t.Fatal(err)
	}
	documented := func(file, section string, re *regexp.Regexp) map[string]bool {
		b, err := os.ReadFile(filepath.Join("..", "..", file))
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		if section != "" {
			i := strings.Index(text, "\n"+section+"\n")
			if i < 0 {
				t.Fatalf("%s has no section %q", file, section)
			}
			text = text[i+len(section)+2:]
			if j := strings.Index(text, "\n## "); j >= 0 {
				text = text[:j]
			}
		}
		names := map[string]bool{}
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			for _, n := range regexp.MustCompile("`([A-Z][A-Z0-9_]+)`").FindAllStringSubmatch(m[1], -1) {
				names[n[1]] = true
			}
			if !strings.Contains(m[1], "`") {
				names[m[1]] = true
			}
		}
		return names
	}
	row := regexp.MustCompile("(?m)^\\| (`[A-Z][A-Z0-9_]+`(?:, `[A-Z][A-Z0-9_]+`)*) \\|")
	readme := documented("README.md", "", row)
	deploy := documented("docs/deploy.md", "## Environment reference", row)
	example := documented(".env.example", "", regexp.MustCompile(`(?m)^#? ?([A-Z][A-Z0-9_]+)=`))
	// Read by the Go runtime or by a library, documented for operators.
	readElsewhere := map[string]bool{"GOGC": true, "GOMEMLIMIT": true,
		"AWS_ACCESS_KEY_ID": true, "AWS_SECRET_ACCESS_KEY": true, "AWS_REGION": true}
	for _, docs := range []struct {
		file  string
		names map[string]bool
	}{{"README.md", readme}, {"docs/deploy.md", deploy}, {".env.example", example}} {
		if len(docs.names) < 10 {
			t.Fatalf("%s: found only %v; the table's format changed?", docs.file, docs.names)
		}
		for n := range docs.names {
			if !read[n] && !readElsewhere[n] {
				t.Errorf("%s documents %s, which the server never reads", docs.file, n)
			}
		}
	}
	for n := range read {
		if !readme[n] {
			t.Errorf("Load reads %s, which the README's configuration table does not document", n)
		}
		if !deploy[n] {
			t.Errorf("Load reads %s, which docs/deploy.md's environment reference does not document", n)
		}
	}
}

// AUTH=auto resolves from the listen host and whether any provider holds a
// server key; a bad AUTH is reported by name.
func TestAuthMode(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want auth.Mode
	}{
		{map[string]string{}, auth.Off},
		{map[string]string{"SERVER_HOST": "0.0.0.0"}, auth.Off},
		{map[string]string{"GOOGLE_API_KEY": "k"}, auth.Off},
		{map[string]string{"SERVER_HOST": "0.0.0.0", "FAL_KEY": "id:s"}, auth.Required},
		{map[string]string{"SERVER_HOST": "0.0.0.0", "FAL_KEY": "id:s", "AUTH": "off"}, auth.Off},
		{map[string]string{"AUTH": "required"}, auth.Required},
		{map[string]string{"AUTH": "Auto", "SERVER_HOST": "::", "OPENAI_API_KEY": "sk"}, auth.Required},
	}
	for _, tt := range tests {
		c, err := Load(func(k string) string { return tt.env[k] })
		if err != nil {
			t.Fatalf("Load(%v): %v", tt.env, err)
		}
		if c.Server.Auth != tt.want || c.AuthReason == "" {
			t.Errorf("Load(%v): auth %s (%q); want %s with a reason", tt.env, c.Server.Auth, c.AuthReason, tt.want)
		}
	}
	if _, err := Load(func(k string) string { return map[string]string{"AUTH": "maybe"}[k] }); err == nil || !strings.Contains(err.Error(), "AUTH") {
		t.Errorf("AUTH=maybe: %v; want an error naming AUTH", err)
	}
}

func TestProviderFallbacks(t *testing.T) {
	c, err := Load(env(map[string]string{"PROVIDER_FALLBACKS": "nano-banana>fal:fal-ai/nano-banana/edit>openai"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Fallbacks) != 1 || c.Fallbacks[0].String() != "nano-banana>fal:fal-ai/nano-banana/edit>openai" {
		t.Errorf("Fallbacks = %v", c.Fallbacks)
	}
	// Every bad entry is named, with the variable, at start-up.
	for value, want := range map[string]string{
		"google>fal>openai":            `PROVIDER_FALLBACKS: "fal" in chain 1 "google>fal>openai" is not a provider`,
		"google>openai:gpt-image-1":    `PROVIDER_FALLBACKS: "openai:gpt-image-1" in chain 1`,
		"google":                       `PROVIDER_FALLBACKS: chain 1 "google" names only one provider`,
		"google>openai,google>fal:a/b": `PROVIDER_FALLBACKS: chains 1 and 2 both start with "google"`,
	} {
		_, err := Load(env(map[string]string{"PROVIDER_FALLBACKS": value}))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("PROVIDER_FALLBACKS=%q: error %v; want one containing %q", value, err, want)
		}
	}
}
