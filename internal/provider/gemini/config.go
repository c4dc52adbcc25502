package gemini

import (
	"errors"
	"regexp"
	"strings"
	"time"

	"frameforge/internal/provider/upstream"
)

// DefaultBaseURL is Google's public Gemini API endpoint.
const DefaultBaseURL = "https://generativelanguage.googleapis.com/"

// DefaultModel is a GA image model with no announced shutdown. The Python
// backend's gemini-2.5-flash-image-preview was shut down on 2026-01-15 and
// answers 404 (docs/providers.md, Gemini: models).
const DefaultModel = "gemini-3.1-flash-image"

// Config of the Gemini provider. The zero value of a field means its
// default when passed to New.
type Config struct {
	BaseURL     string        // GEMINI_BASE_URL; default DefaultBaseURL
	Model       string        // GOOGLE_MODEL_ID; default DefaultModel
	MaxAttempts int           // GEMINI_MAX_ATTEMPTS: attempts for retryable failures (500/502/503/504, connection errors); default 3
	BaseBackoff time.Duration // GEMINI_BASE_BACKOFF: first retry wait before jitter; default 1s
	MaxBackoff  time.Duration // GEMINI_MAX_BACKOFF: cap on any wait, RetryInfo hints included; default 20s
}

// NewDefaultConfig returns the defaults: Google's endpoint, DefaultModel,
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

// modelID matches what the SDK accepts as a Gemini API model name: an id,
// optionally prefixed "models/". The SDK itself rejects '?', '&' and "..".
var modelID = regexp.MustCompile(`^(models/)?[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

func validModel(m string) bool {
	return modelID.MatchString(m) && !strings.Contains(m, "..")
}

// Validate reports every problem at once; each error names its variable.
func (c Config) Validate() error {
	var errs []error
	if !upstream.IsBaseURL(c.BaseURL) {
		errs = append(errs, errors.New("GEMINI_BASE_URL: must be an absolute http(s) URL without query, fragment or credentials"))
	}
	if !validModel(c.Model) {
		errs = append(errs, errors.New(`GOOGLE_MODEL_ID: must be a Gemini model id such as "`+DefaultModel+`"`))
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > 10 {
		errs = append(errs, errors.New("GEMINI_MAX_ATTEMPTS: must be between 1 and 10"))
	}
	if c.BaseBackoff <= 0 {
		errs = append(errs, errors.New("GEMINI_BASE_BACKOFF: must be > 0"))
	}
	if c.MaxBackoff < c.BaseBackoff {
		errs = append(errs, errors.New("GEMINI_MAX_BACKOFF: must be >= GEMINI_BASE_BACKOFF"))
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
