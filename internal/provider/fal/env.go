package fal

import (
	"log/slog"

	"frameforge/internal/envconf"
)

// LoadConfigFromEnv reads the fal settings over the defaults and checks
// them; every problem is recorded on env, naming its variable.
func LoadConfigFromEnv(env *envconf.Reader) Config {
	c := NewDefaultConfig()
	c.QueueURL = env.Str("FAL_QUEUE_URL", c.QueueURL)
	c.RestURL = env.Str("FAL_REST_URL", c.RestURL)
	c.UploadThreshold = env.Bytes("FAL_UPLOAD_THRESHOLD", c.UploadThreshold)
	c.MaxDownloadBytes = env.Bytes("FAL_MAX_DOWNLOAD_BYTES", c.MaxDownloadBytes)
	c.PollInitial = env.Duration("FAL_POLL_INITIAL", c.PollInitial)
	c.PollMax = env.Duration("FAL_POLL_MAX", c.PollMax)
	env.Add(c.Validate())
	return c
}

// LogValue is the effective configuration for the start-up log line.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("queue_url", c.QueueURL),
		slog.String("rest_url", c.RestURL),
		slog.Int64("upload_threshold", c.UploadThreshold),
		slog.Int64("max_download_bytes", c.MaxDownloadBytes),
		slog.Duration("poll_initial", c.PollInitial),
		slog.Duration("poll_max", c.PollMax),
	)
}
