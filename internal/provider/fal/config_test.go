package fal

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	if err := NewDefaultConfig().Validate(); err != nil {
		t.Fatalf("NewDefaultConfig().Validate() = %v; want nil", err)
	}
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantEnv string
	}{
		{"queue URL relative", func(c *Config) { c.QueueURL = "queue.fal.run" }, "FAL_QUEUE_URL"},
		{"queue URL ftp", func(c *Config) { c.QueueURL = "ftp://queue.fal.run" }, "FAL_QUEUE_URL"},
		{"queue URL with query", func(c *Config) { c.QueueURL = "https://queue.fal.run?x=1" }, "FAL_QUEUE_URL"},
		{"rest URL no host", func(c *Config) { c.RestURL = "https://" }, "FAL_REST_URL"},
		{"negative threshold", func(c *Config) { c.UploadThreshold = -1 }, "FAL_UPLOAD_THRESHOLD"},
		{"zero download cap", func(c *Config) { c.MaxDownloadBytes = 0 }, "FAL_MAX_DOWNLOAD_BYTES"},
		{"zero poll", func(c *Config) { c.PollInitial = 0 }, "FAL_POLL_INITIAL"},
		{"poll max below initial", func(c *Config) { c.PollMax = time.Millisecond }, "FAL_POLL_MAX"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := NewDefaultConfig()
			tt.mutate(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.wantEnv+": ") {
				t.Errorf("Validate() = %v; want an error naming %s", err, tt.wantEnv)
			}
		})
	}

	// Every problem at once.
	cfg := Config{}
	err := cfg.Validate()
	for _, env := range []string{"FAL_QUEUE_URL", "FAL_REST_URL", "FAL_MAX_DOWNLOAD_BYTES", "FAL_POLL_INITIAL"} {
		if err == nil || !strings.Contains(err.Error(), env) {
			t.Errorf("Config{}.Validate() = %v; want it to name %s", err, env)
		}
	}
}
