// Package frameforge holds the domain types shared by the HTTP layer and the
// providers: the edit request, the image, the provider interface and the one
// error vocabulary. It imports nothing of the project, so every other package
// may depend on it.
package frameforge

import (
	"context"
	"log/slog"
)

// DefaultPrompt is used when a request has no prompt or only whitespace.
// Compat: the exact text of the Python backend.
const DefaultPrompt = "Stage this room with minimalist modern furniture in neutral tones. " +
	"Preserve architecture and lighting; add realistic shadows and reflections."

// Image is one picture: its bytes and the content type sniffed from them.
type Image struct {
	Data        []byte
	ContentType string // e.g. "image/jpeg"; always sniffed, never taken from a client
	Filename    string // the client's file name, for messages only
	Width       int
	Height      int
}

// Key is a provider credential. It never prints: String and LogValue redact
// it, so a key that slips into a log call or an error message stays hidden.
type Key struct {
	value      string
	fromClient bool
}

// NewKey returns a key; fromClient says whether the caller sent it with the
// request (a rejected client key is the client's problem, 401; a rejected
// server key is ours, 502).
func NewKey(value string, fromClient bool) Key { return Key{value: value, fromClient: fromClient} }

// Reveal returns the secret. Call it only where the key goes on the wire.
func (k Key) Reveal() string { return k.value }

// Empty reports whether there is no key.
func (k Key) Empty() bool { return k.value == "" }

// FromClient reports whether the key came with the request.
func (k Key) FromClient() bool { return k.fromClient }

// String redacts the key.
func (k Key) String() string {
	if k.value == "" {
		return ""
	}
	return "[redacted]"
}

// GoString redacts the key for %#v.
func (k Key) GoString() string { return k.String() }

// LogValue redacts the key in slog output.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// EditRequest is what a provider receives: prepared images in upload order,
// the prompt, the provider's model (for fal, the model path) and the key.
type EditRequest struct {
	Images []Image
	Prompt string
	Model  string
	Key    Key
}

// Provider performs one image edit. Implementations must honour ctx: when it
// ends, the upstream call is cancelled and Edit returns promptly. Errors are
// *Error values (or wrap them) so the HTTP layer can tell the client what to do.
type Provider interface {
	Edit(ctx context.Context, req EditRequest) (Image, error)
}
