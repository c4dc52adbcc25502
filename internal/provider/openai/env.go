package openai

import (
	"log/slog"

	"frameforge/internal/envconf"
)

// LoadConfigFromEnv reads the OpenAI settings over the defaults and checks
// them; every problem is recorded on env, naming its variable.
func LoadConfigFromEnv(env *envconf.Reader) Config {
	c := NewDefaultConfig()
	c.BaseURL = env.Str("OPENAI_BASE_URL", c.BaseURL)
	c.Model = env.Str("OPENAI_IMAGE_MODEL", c.Model)
	c.MaxAttempts = env.Int("OPENAI_MAX_ATTEMPTS", c.MaxAttempts)
	env.Add(c.Validate())
	return c
}

// LogValue is the effective configuration for the start-up log line.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("model", c.Model),
		slog.String("base_url", c.BaseURL),
		slog.Int("max_attempts", c.MaxAttempts),
	)
}
