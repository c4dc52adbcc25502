// Package openai is the OpenAI image-edits provider (GPT image models). It
// calls POST /v1/images/edits through the official SDK
// (github.com/openai/openai-go/v3) with the images and the prompt, and turns
// every upstream outcome into a frameforge.Image or a *frameforge.Error.
// See docs/providers.md, OpenAI.
//
// Exactly one layer retries, and it is this one: the SDK's retries are off
// (option.WithMaxRetries(0)) because it would also retry 408/409/429 and
// sleep past our deadline; ours retries only 500/502/503/504 and connection
// errors, logs each attempt and never waits past ctx's deadline.
package openai

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // register decoders for DecodeConfig
	_ "image/png"
	"io"
	"log/slog"
	"net/http"
	"strings"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"frameforge"
	"frameforge/internal/provider/upstream"
)

// maxAnswerBytes bounds a 2xx answer: one PNG of at most 2560×1440 as
// base64 JSON is far below it.
const maxAnswerBytes = 128 << 20

// maxErrorBytes bounds an error answer's body: a few hundred bytes of JSON,
// a proxy's HTML page a few KiB.
const maxErrorBytes = 64 << 10

// Client edits images with OpenAI. It holds no per-request state and is
// safe for concurrent use.
type Client struct {
	cfg Config
	hc  *http.Client
	log *slog.Logger
	// retry runs an edit's attempts (tests replace its Sleep).
	retry upstream.Retrier
}

var _ frameforge.Provider = (*Client)(nil)

// New returns a client. Zero fields of cfg take their defaults; hc carries
// our timeouts and transport (nil means a fresh &http.Client{}, never
// http.DefaultClient); log nil discards.
//
// The client works on a copy of hc that never follows a redirect (Go would
// re-send the photos to whatever host Location names) and whose transport
// bounds every answer body, the error bodies the SDK reads included.
func New(cfg Config, hc *http.Client, log *slog.Logger) *Client {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	own := upstream.Client(hc, maxAnswerBytes, maxErrorBytes)
	return &Client{cfg: cfg, hc: own, log: log, retry: upstream.Retrier{Provider: "openai", Log: log,
		MaxAttempts: cfg.MaxAttempts, BaseBackoff: cfg.BaseBackoff, MaxBackoff: cfg.MaxBackoff,
		Classify: classify, Ended: contextFailure}}
}

// options wire the SDK explicitly. NewClient also reads OPENAI_* variables
// from the process environment; every one that matters is overridden here
// (key, base URL) or removed (organization and project headers), so the
// operator's settings are the only ones that count.
func (c *Client) options(secret string) []option.RequestOption {
	return []option.RequestOption{
		option.WithAPIKey(secret),
		option.WithBaseURL(c.cfg.BaseURL),
		option.WithHTTPClient(c.hc),
		option.WithMaxRetries(0),
		option.WithHeaderDel("OpenAI-Organization"),
		option.WithHeaderDel("OpenAI-Project"),
	}
}

// Edit sends the images (in order) and the prompt to OpenAI and returns the
// image it answers with. req.Model overrides the configured model. Every
// failure is a *frameforge.Error: EContentBlocked (moderation_blocked),
// ENoImageReturned, EInvalidAPIKey (a client key was rejected) or
// EProviderAuth (ours was), EUpstreamRateLimit (never retried; RetryAfter
// from Retry-After), EProviderInput, EUpstreamError, EUpstreamUnavail,
// EUpstreamTimeout when ctx's deadline passes. When ctx is cancelled, the
// error wraps context.Canceled. An empty key is an internal error: the SDK
// must never fall back to a key from the environment.
func (c *Client) Edit(ctx context.Context, req frameforge.EditRequest) (frameforge.Image, error) {
	if req.Key.Empty() {
		return frameforge.Image{}, &frameforge.Error{Code: frameforge.EInternal, Message: msgInternalCall,
			Err: errors.New("openai: Edit called without an API key")}
	}
	if len(req.Images) == 0 {
		return frameforge.Image{}, &frameforge.Error{Code: frameforge.EInternal, Message: msgInternalCall,
			Err: errors.New("openai: Edit called without images")}
	}
	model := req.Model
	if model == "" {
		model = c.cfg.Model
	}
	if err := ParseModel(model); err != nil {
		return frameforge.Image{}, err
	}
	secret := req.Key.Reveal()
	params, err := editParams(req, model)
	if err != nil {
		return frameforge.Image{}, err
	}
	client := sdk.NewClient(c.options(secret)...)

	return c.retry.Do(ctx, model, req.Key, func() (frameforge.Image, *frameforge.Error, error) {
		// The readers are consumed by each attempt: give every attempt its own.
		params.Image = imageUnion(req.Images)
		resp, err := client.Images.Edit(ctx, params)
		if err != nil {
			return frameforge.Image{}, nil, err
		}
		img, fe := imageFrom(resp, secret)
		if fe != nil {
			return frameforge.Image{}, fe, nil
		}
		return img, nil, nil
	})
}

// editParams are the request's fields but the images: n=1, PNG output, the
// size closest to the first image's aspect ratio. input_fidelity is never
// sent: gpt-image-2 refuses it (docs/providers.md, OpenAI).
func editParams(req frameforge.EditRequest, model string) (sdk.ImageEditParams, error) {
	for _, im := range req.Images {
		if partType(im) == "" {
			return sdk.ImageEditParams{}, frameforge.Errorf(frameforge.EProviderInput,
				"OpenAI accepts PNG, JPEG and WebP images only.")
		}
	}
	prompt := req.Prompt
	if strings.TrimSpace(prompt) == "" {
		prompt = frameforge.DefaultPrompt
	}
	w, h := req.Images[0].Width, req.Images[0].Height
	if w <= 0 || h <= 0 {
		w, h = dimensions(req.Images[0].Data)
	}
	return sdk.ImageEditParams{
		Prompt:       prompt,
		Model:        model,
		N:            sdk.Int(1),
		Size:         sdk.ImageEditParamsSize(chooseSize(w, h)),
		OutputFormat: sdk.ImageEditParamsOutputFormatPNG,
	}, nil
}

// partType is the Content-Type of an image part: OpenAI refuses any other
// than these (application/octet-stream included) with a 400.
func partType(im frameforge.Image) string {
	ct := im.ContentType
	if ct == "" {
		ct = http.DetectContentType(im.Data)
	}
	switch ct {
	case "image/png", "image/jpeg", "image/webp":
		return ct
	}
	return ""
}

var extensions = map[string]string{"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}

// imageUnion makes the file parts. Each carries a name and its real
// content type: a bare reader would go out as application/octet-stream.
// One image is the part "image", several the parts "image[]".
func imageUnion(images []frameforge.Image) sdk.ImageEditParamsImageUnion {
	files := make([]io.Reader, len(images))
	for i, im := range images {
		ct := partType(im)
		files[i] = sdk.File(bytes.NewReader(im.Data), fmt.Sprintf("image-%d%s", i+1, extensions[ct]), ct)
	}
	if len(files) == 1 {
		return sdk.ImageEditParamsImageUnion{OfFile: files[0]}
	}
	return sdk.ImageEditParamsImageUnion{OfFileArray: files}
}

// imageFrom decodes data[0].b64_json.
func imageFrom(resp *sdk.ImagesResponse, secret string) (frameforge.Image, *frameforge.Error) {
	if resp == nil || len(resp.Data) == 0 || resp.Data[0].B64JSON == "" {
		return frameforge.Image{}, failure(frameforge.ENoImageReturned, msgNoImage, errors.New("no data[0].b64_json"), secret)
	}
	data, err := base64.StdEncoding.DecodeString(resp.Data[0].B64JSON)
	if err != nil {
		return frameforge.Image{}, failure(frameforge.EUpstreamError, msgBadAnswer, err, secret)
	}
	ct := http.DetectContentType(data)
	switch ct {
	case "image/png", "image/jpeg", "image/webp":
	default:
		return frameforge.Image{}, failure(frameforge.EUpstreamError, msgNotAnImage,
			fmt.Errorf("b64_json decodes to %s", ct), secret)
	}
	w, h := dimensions(data)
	return frameforge.Image{Data: data, ContentType: ct, Width: w, Height: h}, nil
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
