package faltest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/url"
	"strings"
)

// family is a model family's input and output shape (see docs/providers.md, fal.ai).
type family struct {
	prefix      string
	imageArg    string   // "image_url", "image_urls", or "" (text-to-image)
	formats     []string // accepted output_format values; nil: no such field (ignored)
	format      string   // default output_format
	shape       string   // "banana", "flux", "seedream", "plain"
	maxImageURL int      // seedream keeps only the last 10
}

// families is the fake's own table, written from fal's model docs, not from
// the client's table: the fake must catch a client that gets it wrong.
var families = []family{
	{prefix: "fal-ai/nano-banana", imageArg: "image_urls", formats: []string{"png", "jpeg", "webp"}, format: "png", shape: "banana"},
	{prefix: "fal-ai/nano-banana-pro", imageArg: "image_urls", formats: []string{"png", "jpeg", "webp"}, format: "png", shape: "banana"},
	{prefix: "fal-ai/qwen-image-edit", imageArg: "image_url", formats: []string{"jpeg", "png"}, format: "png", shape: "flux"},
	{prefix: "fal-ai/flux-kontext", imageArg: "image_url", formats: []string{"jpeg", "png"}, format: "jpeg", shape: "flux"},
	{prefix: "fal-ai/bytedance/seedream", imageArg: "image_urls", format: "png", shape: "seedream", maxImageURL: 10},
	{prefix: "fal-ai/flux/dev", formats: []string{"jpeg", "png"}, format: "jpeg", shape: "flux"},
}

// familyOf matches by whole path segments; unknown models take image_urls.
func familyOf(endpointID string) family {
	for _, f := range families {
		if endpointID == f.prefix || strings.HasPrefix(endpointID, f.prefix+"/") {
			if f.prefix == "fal-ai/flux/dev" && endpointID != f.prefix {
				continue // fal-ai/flux/dev/image-to-image is another model
			}
			return f
		}
	}
	return family{imageArg: "image_urls", format: "png", shape: "plain"}
}

// problem is one pydantic-style validation error.
type problem struct {
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
	Type string `json:"type"`
}

// writeProblems answers fal's 422 validation body.
func writeProblems(w http.ResponseWriter, ps []problem) {
	w.Header().Set("X-Fal-Retryable", "false")
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": ps})
}

// validate checks an input like the model's schema would and decodes its
// images. Images are nil when there are problems.
func (s *Server) validate(endpointID string, in map[string]any) ([]InputImage, []problem) {
	f := familyOf(endpointID)
	var ps []problem
	add := func(msg, typ string, loc ...any) {
		ps = append(ps, problem{Loc: append([]any{"body"}, loc...), Msg: msg, Type: typ})
	}
	switch p, ok := in["prompt"]; {
	case !ok:
		add("field required", "missing", "prompt")
	case !isString(p):
		add("Input should be a valid string", "string_type", "prompt")
	case p == "":
		add("String should have at least 1 character", "string_too_short", "prompt")
	}
	if v, ok := in["output_format"]; ok && f.formats != nil {
		if s, _ := v.(string); !contains(f.formats, s) {
			add("Input should be '"+strings.Join(f.formats, "', '")+"'", "literal_error", "output_format")
		}
	}
	if v, ok := in["num_images"]; ok {
		if n, isNum := v.(float64); !isNum || n != float64(int(n)) || n < 1 || n > 4 {
			add("Input should be an integer between 1 and 4", "int_range", "num_images")
		}
	}

	var refs []string
	var locs [][]any
	switch f.imageArg {
	case "image_url":
		switch v, ok := in["image_url"]; {
		case !ok:
			add("field required", "missing", "image_url")
		case !isString(v):
			add("Input should be a valid string", "string_type", "image_url")
		default:
			refs, locs = []string{v.(string)}, [][]any{{"image_url"}}
		}
	case "image_urls":
		switch v, ok := in["image_urls"]; {
		case !ok:
			add("field required", "missing", "image_urls")
		default:
			list, isList := v.([]any)
			if !isList {
				add("Input should be a valid list", "list_type", "image_urls")
				break
			}
			if len(list) == 0 {
				add("List should have at least 1 item after validation, not 0", "too_short", "image_urls")
			}
			for i, e := range list {
				if !isString(e) {
					add("Input should be a valid string", "string_type", "image_urls", i)
					continue
				}
				refs, locs = append(refs, e.(string)), append(locs, []any{"image_urls", i})
			}
		}
	}
	var images []InputImage
	for i, ref := range refs {
		img, ok := s.resolve(ref)
		switch {
		case !ok:
			add("Failed to download the file. Please check if the URL is accessible.", "file_download_error", locs[i]...)
		case !strings.HasPrefix(http.DetectContentType(img.Data), "image/"):
			add("Failed to load the image. Please ensure the image file is not corrupted and is in a supported format.", "image_load_error", locs[i]...)
		default:
			images = append(images, img)
		}
	}
	if len(ps) > 0 {
		return nil, ps
	}
	if f.maxImageURL > 0 && len(images) > f.maxImageURL {
		images = images[len(images)-f.maxImageURL:]
	}
	return images, nil
}

// resolve decodes a data URI or fetches a URL from the fake's own storage;
// the fake reaches no other host.
func (s *Server) resolve(ref string) (InputImage, bool) {
	if rest, ok := strings.CutPrefix(ref, "data:"); ok {
		meta, payload, ok := strings.Cut(rest, ",")
		ct, isB64 := strings.CutSuffix(meta, ";base64")
		if !ok || !isB64 {
			return InputImage{}, false
		}
		data, err := base64.StdEncoding.DecodeString(payload)
		if err != nil {
			return InputImage{}, false
		}
		return InputImage{Source: "data-uri", ContentType: ct, Data: data}, true
	}
	u, err := url.Parse(ref)
	if err != nil || u.Scheme+"://"+u.Host != s.URL {
		return InputImage{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.files[strings.TrimPrefix(u.Path, "/files/")]
	if f == nil || f.Data == nil {
		return InputImage{}, false
	}
	return InputImage{Source: ref, ContentType: f.ContentType, Data: f.Data}, true
}

// outputLocked renders the model's output: num_images solid-colour images
// as large as the first input, in output_format, as data URIs when sync_mode
// is set, else as files on the fake CDN. s.mu must be held.
func (s *Server) outputLocked(endpointID string, in map[string]any, inputs []InputImage, id string) map[string]any {
	f := familyOf(endpointID)
	format := f.format
	if v, ok := in["output_format"].(string); ok && f.formats != nil {
		format = v
	}
	n := 1
	if v, ok := in["num_images"].(float64); ok {
		n = int(v)
	}
	sync, _ := in["sync_mode"].(bool)
	w, h := 64, 48
	if len(inputs) > 0 {
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(inputs[0].Data)); err == nil && cfg.Width <= 2048 && cfg.Height <= 2048 {
			w, h = cfg.Width, cfg.Height
		}
	}
	prompt, _ := in["prompt"].(string)
	data, ct := s.b.Output, http.DetectContentType(s.b.Output)
	if data == nil {
		data, ct = render(w, h, prompt, format)
	}

	images := []any{}
	nsfw := []bool{}
	for k := 0; k < n && !s.b.NoImages; k++ {
		name := fmt.Sprintf("output_%d.%s", k, strings.TrimPrefix(ct, "image/"))
		var u string
		switch {
		case s.b.BrokenOutputURL:
			u = s.URL + "/files/expired/" + id + "/" + name
		case sync && !s.b.OutputURLs:
			u = "data:" + ct + ";base64," + base64.StdEncoding.EncodeToString(data)
		default:
			path := "out/" + id + "/" + name
			s.files[path] = &Upload{FileName: name, ContentType: ct, FileURL: s.URL + "/files/" + path, Data: data}
			u = s.URL + "/files/" + path
		}
		if !strings.HasPrefix(u, "data:") {
			u = s.rewriteLocked("images.url", u)
		}
		images = append(images, map[string]any{"url": u, "content_type": ct, "file_name": name,
			"file_size": len(data), "width": w, "height": h})
		nsfw = append(nsfw, s.b.NSFW)
	}
	seed := float64(42)
	if v, ok := in["seed"].(float64); ok {
		seed = v
	}
	out := map[string]any{"images": images}
	switch f.shape {
	case "banana":
		out["description"] = ""
	case "flux":
		out["seed"], out["prompt"], out["has_nsfw_concepts"] = seed, prompt, nsfw
		out["timings"] = map[string]any{"inference": 0.5}
	case "seedream":
		out["seed"] = seed
	}
	return out
}

// render draws a w×h image whose colour derives from the prompt. webp has no
// stdlib encoder, so it comes out as png (and says so).
func render(w, h int, prompt, format string) ([]byte, string) {
	sum := fnv.New32a()
	sum.Write([]byte(prompt))
	v := sum.Sum32()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	c := color.RGBA{R: uint8(v), G: uint8(v >> 8), B: uint8(v >> 16), A: 255}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if format == "jpeg" {
		jpeg.Encode(&buf, img, nil)
		return buf.Bytes(), "image/jpeg"
	}
	png.Encode(&buf, img)
	return buf.Bytes(), "image/png"
}

func isString(v any) bool { _, ok := v.(string); return ok }

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
