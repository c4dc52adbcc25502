package upstream

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"frameforge"
)

// maxCauseLen bounds a cause's text: a malformed answer can make an SDK quote
// the whole multi-MB body in its error.
const maxCauseLen = 512

// cause is the internal cause a provider keeps in frameforge.Error.Err. Its
// text is what logs show, so it hides the key (an upstream body may quote
// it) and is bounded.
type cause struct {
	err    error
	secret string
}

func (c *cause) Error() string {
	s := c.err.Error()
	if c.secret != "" {
		s = strings.ReplaceAll(s, c.secret, "[redacted]")
	}
	if len(s) > maxCauseLen {
		cut := maxCauseLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + fmt.Sprintf("… (%d bytes cut)", len(s)-cut)
	}
	return s
}

func (c *cause) Unwrap() error { return c.err }

// Failure builds a provider's error: code and msg for the client, err (when
// not nil) kept as the cause, prefixed with the provider's name, with secret
// (the key used) redacted from its text and the text bounded.
func Failure(provider, code, msg string, err error, secret string) *frameforge.Error {
	if err != nil {
		err = &cause{err: fmt.Errorf("%s: %w", provider, err), secret: secret}
	}
	return &frameforge.Error{Code: code, Message: msg, Err: err}
}
