package openai

import (
	"errors"
	"regexp"
	"strings"
	"time"

	"frameforge"
	"frameforge/internal/provider/upstream"
)

// DefaultBaseURL is OpenAI's public API endpoint (with its version path).
const DefaultBaseURL = "https://api.openai.com/v1/"

// DefaultModel is the current GPT image model. gpt-image-1, gpt-image-1.5,
// gpt-image-1-mini and chatgpt-image-latest are shut down (docs/providers.md,
// OpenAI: models) and are refused by ParseModel.
const DefaultModel = "gpt-image-2"

// Config of the OpenAI provider. The zero value of a field means its
// default when passed to New.
type Config struct {
	BaseURL     string        // OPENAI_BASE_URL; default DefaultBaseURL
	Model       string        // OPENAI_IMAGE_MODEL; default DefaultModel
	MaxAttempts int           // OPENAI_MAX_ATTEMPTS: attempts for retryable failures (500/502/503/504, connection errors); default 3
	BaseBackoff time.Duration // first retry wait before jitter; 1s (tests shorten it)
	MaxBackoff  time.Duration // cap on any wait, Retry-After included; 20s
}

// NewDefaultConfig returns the defaults: OpenAI's endpoint, DefaultModel,
// 3 attempts, 1 s base backoff capped at 20 s.
func NewDefaultConfig() Config {
	return Config{
		BaseURL:     DefaultBaseURL,
		Model:       DefaultModel,
		MaxAttempts: 3,
		BaseBackoff: time.Second,
		MaxBackoff:  20 * time.Second,
	}
}

// modelID is the shape of a GPT image model id from gpt-image-2 on:
// "gpt-image-2", "gpt-image-2-2026-04-21", "gpt-image-2.5-flare"…
var modelID = regexp.MustCompile(`^gpt-image-([2-9]|[1-9][0-9])(\.[0-9]{1,2})?(-[a-z0-9]{1,32}){0,4}$`)

// ParseModel checks an OpenAI image model id. It refuses the models that
// are shut down (gpt-image-1, gpt-image-1.5, gpt-image-1-mini,
// chatgpt-image-latest, dall-e-2/3) by name, and anything that is not a
// GPT image model from gpt-image-2 on. The error is an EInvalidRequest
// *frameforge.Error whose message is for people.
func ParseModel(model string) error {
	m := strings.ToLower(strings.TrimSpace(model))
	if strings.HasPrefix(m, "gpt-image-1") || m == "chatgpt-image-latest" || strings.HasPrefix(m, "dall-e") {
		return frameforge.Errorf(frameforge.EInvalidRequest,
			"The OpenAI model %q is shut down; use %q or a later GPT image model.", truncate(model, 64), DefaultModel)
	}
	if !modelID.MatchString(m) {
		return frameforge.Errorf(frameforge.EInvalidRequest,
			"%q is not an OpenAI image model id such as %q.", truncate(model, 64), DefaultModel)
	}
	return nil
}

// Validate reports every problem at once; each error names its variable.
func (c Config) Validate() error {
	var errs []error
	if !upstream.IsBaseURL(c.BaseURL) {
		errs = append(errs, errors.New("OPENAI_BASE_URL: must be an absolute http(s) URL without query, fragment or credentials"))
	}
	if err := ParseModel(c.Model); err != nil {
		errs = append(errs, errors.New("OPENAI_IMAGE_MODEL: "+frameforge.ErrorMessage(err)))
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > 10 {
		errs = append(errs, errors.New("OPENAI_MAX_ATTEMPTS: must be between 1 and 10"))
	}
	if c.BaseBackoff <= 0 || c.MaxBackoff < c.BaseBackoff {
		errs = append(errs, errors.New("openai: backoff must be > 0 and its cap >= the base"))
	}
	return errors.Join(errs...)
}

// withDefaults fills zero fields, so a partly filled Config (as in tests)
// never leaves the SDK to pick a base URL from the environment.
func (c Config) withDefaults() Config {
	d := NewDefaultConfig()
	if c.BaseURL == "" {
		c.BaseURL = d.BaseURL
	}
	if c.Model == "" {
		c.Model = d.Model
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = d.MaxAttempts
	}
	if c.BaseBackoff <= 0 {
		c.BaseBackoff = d.BaseBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = max(d.MaxBackoff, c.BaseBackoff)
	}
	return c
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
