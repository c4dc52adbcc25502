package fal

import (
	"strings"

	"frameforge"
)

// model describes how one family of fal endpoints takes its arguments. The
// queue protocol is the same for every model; only the input JSON differs, so
// supporting a new family is one line in models.
type model struct {
	// prefix matches an endpoint id by whole path segments: "fal-ai/qwen-image-edit"
	// matches "fal-ai/qwen-image-edit" and "fal-ai/qwen-image-edit/x", never
	// "fal-ai/qwen-image-edit-plus" (which takes image_urls).
	prefix string
	// imageArg is "image_url" (one string) or "image_urls" (an array).
	imageArg string
	// maxImages is the most input images the model uses; 0 means no limit we
	// know of (fal answers with a 422 if there is one).
	maxImages int
	// outputFormat is sent as output_format; "" for models without the field.
	// png: the result is a photo of someone's home that we hand back as-is,
	// so we avoid a second lossy generation on top of the model's own.
	outputFormat string
}

// Image argument names of fal models.
const (
	argImageURL  = "image_url"
	argImageURLs = "image_urls"
)

// models is the argument table, checked in order (first match wins, so put a
// more specific prefix before a shorter one). Sources: fal-js
// libs/client/src/types/endpoints.ts, see docs/providers.md, fal.ai.
var models = []model{
	// Single-image models: output_format "jpeg"|"png".
	{prefix: "fal-ai/flux-kontext", imageArg: argImageURL, maxImages: 1, outputFormat: "png"},
	{prefix: "fal-ai/qwen-image-edit", imageArg: argImageURL, maxImages: 1, outputFormat: "png"},
	// Multi-image models: output_format "png"|"jpeg"|"webp".
	{prefix: "fal-ai/nano-banana", imageArg: argImageURLs, outputFormat: "png"},
	{prefix: "fal-ai/nano-banana-pro", imageArg: argImageURLs, outputFormat: "png"},
	// Seedream has no output_format; over 10 images it silently keeps the
	// last 10, so we refuse instead of dropping the user's first photos.
	{prefix: "fal-ai/bytedance/seedream", imageArg: argImageURLs, maxImages: 10},
}

// defaultModel is used for endpoint ids the table does not know: most fal
// edit models take image_urls, and we send no output_format because an
// unknown model may not accept our value.
var defaultModel = model{imageArg: argImageURLs}

// lookupModel returns the table entry for a validated endpoint id.
func lookupModel(endpointID string) model {
	for _, m := range models {
		if endpointID == m.prefix || strings.HasPrefix(endpointID, m.prefix+"/") {
			return m
		}
	}
	return defaultModel
}

// checkImages refuses an image count the model cannot take, before anything
// is sent (and paid for). It returns EInvalidRequest.
func (m model) checkImages(endpointID string, n int) error {
	switch {
	case n == 0:
		return frameforge.Errorf(frameforge.EInvalidRequest, "There is no image to edit.")
	case m.maxImages == 1 && n > 1:
		return frameforge.Errorf(frameforge.EInvalidRequest,
			"Model %s takes one image; %d were sent.", endpointID, n)
	case m.maxImages > 0 && n > m.maxImages:
		return frameforge.Errorf(frameforge.EInvalidRequest,
			"Model %s takes at most %d images; %d were sent.", endpointID, m.maxImages, n)
	}
	return nil
}

// input builds the model's input JSON object. Every model gets num_images 1
// (we return one image) and sync_mode true: results come back as data URIs,
// which saves a download and leaves no public CDN copy of the room.
func (m model) input(prompt string, imageRefs []string) map[string]any {
	in := map[string]any{
		"prompt":     prompt,
		"num_images": 1,
		"sync_mode":  true,
	}
	if m.imageArg == argImageURL {
		in[argImageURL] = imageRefs[0]
	} else {
		in[argImageURLs] = imageRefs
	}
	if m.outputFormat != "" {
		in["output_format"] = m.outputFormat
	}
	return in
}

// ValidateEndpointID checks that id is a fal endpoint id: owner/app[/path…]
// (three segments at least for the workflows/ and comfy/ namespaces), each
// segment non-empty, not "." or "..", and made of letters, digits, '-', '_'
// and '.'. The id becomes a URL path, so anything else (query, fragment,
// escapes, spaces) could point the request somewhere else. It returns
// EInvalidRequest.
func ValidateEndpointID(id string) error {
	bad := func(why string) error {
		return frameforge.Errorf(frameforge.EInvalidRequest,
			"The fal model %q is not a valid endpoint id (%s); expected owner/app[/path], e.g. fal-ai/nano-banana/edit.", truncate(id, 100), why)
	}
	if id == "" {
		return bad("empty")
	}
	segs := strings.Split(id, "/")
	minSegs := 2
	if segs[0] == "workflows" || segs[0] == "comfy" {
		minSegs = 3
	}
	if len(segs) < minSegs {
		return bad("too few path segments")
	}
	for _, s := range segs {
		if s == "" || s == "." || s == ".." {
			return bad("empty or dot segment")
		}
		for _, r := range s {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
				r == '-' || r == '_' || r == '.'
			if !ok {
				return bad("unexpected character")
			}
		}
	}
	return nil
}

// KnownModels returns the edit endpoints offered to clients as examples:
// the four the shipped web client lists, then newer ones. Any valid endpoint
// id works; these are the ones whose arguments the table knows.
func KnownModels() []string {
	return []string{
		"fal-ai/nano-banana/edit",
		"fal-ai/qwen-image-edit",
		"fal-ai/bytedance/seedream/v4/edit",
		"fal-ai/flux-kontext/dev",
		"fal-ai/nano-banana-pro/edit",
	}
}
