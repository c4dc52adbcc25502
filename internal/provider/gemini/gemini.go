// Package gemini is the Google Gemini ("Nano Banana") image-editing
// provider. It calls generateContent through the official SDK
// (google.golang.org/genai) with the images and the prompt, and turns every
// upstream outcome into a frameforge.Image or a *frameforge.Error.
//
// Exactly one layer retries, and it is this one: the SDK's own retry stays
// off because it ignores RetryInfo and would multiply with ours.
package gemini

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // register decoders for DecodeConfig of the answer
	_ "image/jpeg"
	_ "image/png"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"

	"google.golang.org/genai"

	"frameforge"
	"frameforge/internal/provider/upstream"
)

// apiVersion is the Gemini API version the image models are served under.
const apiVersion = "v1beta"

// Client edits images with Gemini. It holds no per-request state and is
// safe for concurrent use.
type Client struct {
	cfg Config
	hc  *http.Client
	log *slog.Logger
	// retry runs an edit's attempts (tests replace its Sleep).
	retry upstream.Retrier
}

var _ frameforge.Provider = (*Client)(nil)

// maxErrorBytes bounds an error answer's body. Google's are a few hundred
// bytes of google.rpc.Status JSON, a proxy's HTML page a few KiB.
const maxErrorBytes = 64 << 10

// New returns a client. Zero fields of cfg take their defaults; hc carries
// our timeouts and transport (nil means a fresh &http.Client{}, never
// http.DefaultClient); log nil discards.
//
// The client works on a copy of hc (the caller's is untouched) that never
// follows a redirect: Go re-sends a 307/308 with its body and every header
// but Authorization and cookies to whatever host Location names, which here
// means the x-goog-api-key and the photo. A redirect is an upstream_error.
// Its transport streams the images into the request body (inline.go) and
// bounds every answer body, including the error bodies the SDK reads itself.
func New(cfg Config, hc *http.Client, log *slog.Logger) *Client {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	own := upstream.Client(hc, maxAnswerBytes, maxErrorBytes)
	own.Transport = &inlineTransport{base: own.Transport}
	cfg = cfg.withDefaults()
	return &Client{cfg: cfg, hc: own, log: log, retry: upstream.Retrier{Provider: "gemini", Log: log,
		MaxAttempts: cfg.MaxAttempts, BaseBackoff: cfg.BaseBackoff, MaxBackoff: cfg.MaxBackoff,
		Classify: classify, Ended: contextFailure}}
}

// Edit sends the images (in order) and the prompt to Gemini and returns the
// image it answers with. req.Model overrides the configured model. Every
// failure is a *frameforge.Error: EContentBlocked, ENoImageReturned,
// EInvalidAPIKey (a client key was rejected) or EProviderAuth (ours was),
// EUpstreamRateLimit (never retried; RetryAfter from RetryInfo),
// EProviderInput, EUpstreamError, EUpstreamUnavail, EUpstreamTimeout when
// ctx's deadline passes. When ctx is cancelled, the error wraps
// context.Canceled. An empty key is an internal error: the SDK must never
// fall back to a key from the environment.
func (c *Client) Edit(ctx context.Context, req frameforge.EditRequest) (frameforge.Image, error) {
	if req.Key.Empty() {
		return frameforge.Image{}, &frameforge.Error{Code: frameforge.EInternal, Message: msgInternalCall,
			Err: errors.New("gemini: Edit called without an API key")}
	}
	if len(req.Images) == 0 {
		return frameforge.Image{}, &frameforge.Error{Code: frameforge.EInternal, Message: msgInternalCall,
			Err: errors.New("gemini: Edit called without images")}
	}
	model := req.Model
	if model == "" {
		model = c.cfg.Model
	}
	if !validModel(model) {
		return frameforge.Image{}, frameforge.Errorf(frameforge.EInvalidRequest, "The Gemini model id %q is not valid.", model)
	}
	secret := req.Key.Reveal()

	// The SDK client is built per call because keys differ per request. It
	// is cheap (a few small allocations, no I/O): with Backend, APIKey,
	// BaseURL and APIVersion all set, nothing it reads from the environment
	// changes its behaviour.
	sdk, err := genai.NewClient(ctx, &genai.ClientConfig{
		APIKey:     secret,
		Backend:    genai.BackendGeminiAPI,
		HTTPClient: c.hc,
		HTTPOptions: genai.HTTPOptions{
			BaseURL:    c.cfg.BaseURL,
			APIVersion: apiVersion,
		},
	})
	if err != nil {
		return frameforge.Image{}, failure(frameforge.EInternal, msgInternalCall, err, secret)
	}

	in, ps, err := parts(req)
	if err != nil {
		return frameforge.Image{}, failure(frameforge.EInternal, msgInternalCall, err, secret)
	}
	ctx = withInline(ctx, in)
	// From here on only the bypass holds the images (see inline.go).
	req.Images = nil
	contents := []*genai.Content{genai.NewContentFromParts(ps, genai.RoleUser)}
	gcfg := generateConfig()

	return c.retry.Do(ctx, model, req.Key, func() (frameforge.Image, *frameforge.Error, error) {
		// Unary, not streaming: a 2–10 MB image inside one SSE event breaks
		// stream parsers (see docs/providers.md, Gemini).
		resp, err := c.generate(ctx, sdk, model, contents, gcfg)
		if err != nil {
			return frameforge.Image{}, nil, err
		}
		img, fe := imageFrom(resp, in, secret)
		if fe != nil {
			return frameforge.Image{}, fe, nil
		}
		img.Width, img.Height = dimensions(img.Data)
		return img, nil, nil
	})
}

// errSDKPanic marks a panic of the SDK while it handled an answer.
var errSDKPanic = errors.New("the Gemini SDK panicked on the answer")

// generate calls the SDK and turns a panic inside it into an error. Some
// malformed 200 bodies (`null`, `{"candidates":[null]}`) make the SDK
// panic while converting them; that is the upstream's fault, so it must
// be an upstream_error like any unreadable answer, not a crash of our
// handler logged as our bug. The stack goes to the debug log only.
func (c *Client) generate(ctx context.Context, sdk *genai.Client, model string, contents []*genai.Content,
	gcfg *genai.GenerateContentConfig) (resp *genai.GenerateContentResponse, err error) {
	defer func() {
		if v := recover(); v != nil {
			c.log.DebugContext(ctx, "gemini SDK panic", slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
			resp, err = nil, fmt.Errorf("%w: %v", errSDKPanic, v)
		}
	}()
	return sdk.Models.GenerateContent(ctx, model, contents, gcfg)
}

// generateConfig asks for one image and nothing else.
func generateConfig() *genai.GenerateContentConfig {
	return &genai.GenerateContentConfig{
		ResponseModalities: []string{string(genai.ModalityImage)},
		CandidateCount:     1,
		// No silent re-sends: a continuation would be a second billed call
		// outside our retry budget.
		AutomaticContinuation: genai.Ptr(false),
	}
}

// parts lists every image in upload order, then the prompt: the order the
// model reads them in. The image parts carry markers the transport replaces
// (inline.go) with the images in the returned bypass.
func parts(req frameforge.EditRequest) (*inlineImages, []*genai.Part, error) {
	images := make([][]byte, len(req.Images))
	types := make([]string, len(req.Images))
	for i, im := range req.Images {
		images[i], types[i] = im.Data, im.ContentType
		if types[i] == "" {
			types[i] = http.DetectContentType(im.Data)
		}
	}
	in, ps, err := inlineParts(images, types)
	if err != nil {
		return nil, nil, err
	}
	prompt := req.Prompt
	if strings.TrimSpace(prompt) == "" {
		// An empty text part is a 400 upstream; the caller normally fills
		// this in already.
		prompt = frameforge.DefaultPrompt
	}
	return in, append(ps, genai.NewPartFromText(prompt)), nil
}

// dimensions reads the size from the image header; 0, 0 for formats the
// standard library does not decode (WebP).
func dimensions(data []byte) (w, h int) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return 0, 0
	}
	return cfg.Width, cfg.Height
}
