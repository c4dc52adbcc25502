package gemini

import (
	"log/slog"

	"frameforge/internal/envconf"
)

// LoadConfigFromEnv reads the Gemini settings over the defaults and checks
// them; every problem is recorded on env, naming its variable.
func LoadConfigFromEnv(env *envconf.Reader) Config {
	c := NewDefaultConfig()
	c.Model = env.Str("GOOGLE_MODEL_ID", c.Model)
	c.BaseURL = env.Str("GEMINI_BASE_URL", c.BaseURL)
	c.MaxAttempts = env.Int("GEMINI_MAX_ATTEMPTS", c.MaxAttempts)
	c.BaseBackoff = env.Duration("GEMINI_BASE_BACKOFF", c.BaseBackoff)
	c.MaxBackoff = env.Duration("GEMINI_MAX_BACKOFF", c.MaxBackoff)
	env.Add(c.Validate())
	return c
}

// LogValue is the effective configuration for the start-up log line.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("model", c.Model),
		slog.String("base_url", c.BaseURL),
		slog.Int("max_attempts", c.MaxAttempts),
		slog.Duration("base_backoff", c.BaseBackoff),
		slog.Duration("max_backoff", c.MaxBackoff),
	)
}
