// Package openaitest is a fake OpenAI image-edits server on httptest that
// speaks the wire protocol the SDK uses (docs/providers.md, OpenAI): it
// checks the key, the multipart parts and the size rules, answers with
// scripted scenarios and records every request.
package openaitest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Kind selects what the fake answers to a request that passed
// authentication and validation.
type Kind int

// The kinds of answer. The zero value is Success.
const (
	// Success answers 200 with one PNG of the requested size in b64_json.
	Success Kind = iota
	// ModerationBlocked answers 400 code moderation_blocked
	// (type image_generation_user_error).
	ModerationBlocked
	// RateLimited answers 429 with Retry-After (Scenario.RetryAfter, default "20").
	RateLimited
	// InvalidKey answers 401 invalid_api_key whatever the key.
	InvalidKey
	// Internal answers 500 server_error.
	Internal
	// Unavailable answers 503 (Retry-After when Scenario.RetryAfter is set).
	Unavailable
	// MalformedJSON answers 200 application/json with a truncated document.
	MalformedJSON
	// NoImage answers 200 with "data":[].
	NoImage
	// KeyInErrorBody answers 400 whose message quotes the key the client sent.
	KeyInErrorBody
	// Forbidden answers 403 (a key without access to the model).
	Forbidden
)

// Scenario is one scripted answer.
type Scenario struct {
	Kind       Kind
	RetryAfter string        // Retry-After header value
	Delay      time.Duration // wait before answering; ends early when the client goes away
}

// Request is what the fake recorded of one request.
type Request struct {
	Method, Path  string
	Authorization string
	Fields        map[string]string // form fields by name
	ImagePart     string            // "image" or "image[]"
	ImageTypes    []string          // each image part's Content-Type, in order
	ImageNames    []string
	ImageSizes    []int
	ImageData     [][]byte // each image part's bytes, in order
}

// Server is the fake. Key is the only key it accepts.
type Server struct {
	*httptest.Server
	Key string

	mu       sync.Mutex
	script   []Scenario
	requests []Request
}

// NewServer starts a fake with a random-looking key; it closes with the test.
func NewServer(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{Key: "sk-test-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

// BaseURL is the value for OPENAI_BASE_URL: the fake's URL plus "/v1/".
func (s *Server) BaseURL() string { return s.URL + "/v1/" }

// Script queues answers, one per request; when the script runs out the fake
// answers Success.
func (s *Server) Script(sc ...Scenario) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, sc...)
}

// Requests returns a copy of what was recorded.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func (s *Server) next() Scenario {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.script) == 0 {
		return Scenario{}
	}
	sc := s.script[0]
	s.script = s.script[1:]
	return sc
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r)
}

// writeError writes OpenAI's error body.
func writeError(w http.ResponseWriter, status int, typ, param, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	var p, c any
	if param != "" {
		p = param
	}
	if code != "" {
		c = code
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"message": msg, "type": typ, "param": p, "code": c}})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rec := Request{Method: r.Method, Path: r.URL.Path, Authorization: r.Header.Get("Authorization"),
		Fields: map[string]string{}}
	defer func() { s.record(rec) }()
	if r.Method != http.MethodPost || r.URL.Path != "/v1/images/edits" {
		writeError(w, http.StatusNotFound, "invalid_request_error", "", "unknown_url",
			fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path))
		return
	}
	key, ok := strings.CutPrefix(rec.Authorization, "Bearer ")
	if !ok || key != s.Key {
		writeError(w, http.StatusUnauthorized, "invalid_request_error", "", "invalid_api_key",
			"Incorrect API key provided: "+mask(key)+". You can find your API key at https://platform.openai.com/account/api-keys.")
		return
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "", "Expected multipart/form-data.")
		return
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	var sizes [][2]int
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "", "", "Malformed multipart body.")
			return
		}
		data, _ := io.ReadAll(io.LimitReader(p, 64<<20))
		name := p.FormName()
		if p.FileName() == "" {
			rec.Fields[name] = string(data)
			continue
		}
		if name != "image" && name != "image[]" {
			rec.Fields[name] = "(file)"
			continue
		}
		if rec.ImagePart != "" && rec.ImagePart != name {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "image", "", "Mixed image and image[] parts.")
			return
		}
		rec.ImagePart = name
		ct := p.Header.Get("Content-Type")
		rec.ImageTypes = append(rec.ImageTypes, ct)
		rec.ImageNames = append(rec.ImageNames, p.FileName())
		rec.ImageSizes = append(rec.ImageSizes, len(data))
		rec.ImageData = append(rec.ImageData, data)
		switch ct {
		case "image/png", "image/jpeg", "image/webp":
		default:
			writeError(w, http.StatusBadRequest, "invalid_request_error", "image", "unsupported_file_mimetype",
				fmt.Sprintf("Invalid file 'image': unsupported mimetype ('%s'). Supported file formats are 'image/jpeg', 'image/png', and 'image/webp'.", ct))
			return
		}
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil {
			sizes = append(sizes, [2]int{cfg.Width, cfg.Height})
		}
	}
	if msg, param := validate(rec); msg != "" {
		writeError(w, http.StatusBadRequest, "invalid_request_error", param, "", msg)
		return
	}

	sc := s.next()
	if sc.Delay > 0 {
		t := time.NewTimer(sc.Delay)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	switch sc.Kind {
	case ModerationBlocked:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":{"message":"Your request was rejected by the safety system. If you believe this is an error, contact us at help.openai.com and include the request ID req_123. safety_violations=[sexual].","type":"image_generation_user_error","param":null,"code":"moderation_blocked","moderation_details":{"moderation_stage":"output","categories":["sexual"]}}}`)
	case RateLimited:
		ra := sc.RetryAfter
		if ra == "" {
			ra = "20"
		}
		w.Header().Set("Retry-After", ra)
		writeError(w, http.StatusTooManyRequests, "requests", "", "rate_limit_exceeded",
			"Rate limit reached for gpt-image-2 on images per minute (IPM): Limit 5, Used 5, Requested 1.")
	case InvalidKey:
		writeError(w, http.StatusUnauthorized, "invalid_request_error", "", "invalid_api_key",
			"Incorrect API key provided: "+mask(key)+".")
	case Internal:
		writeError(w, http.StatusInternalServerError, "server_error", "", "server_error",
			"The server had an error while processing your request. Sorry about that!")
	case Unavailable:
		if sc.RetryAfter != "" {
			w.Header().Set("Retry-After", sc.RetryAfter)
		}
		writeError(w, http.StatusServiceUnavailable, "server_error", "", "", "The engine is currently overloaded, please try again later.")
	case MalformedJSON:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"created":1713833628,"data":[{"b64_json":"iVBOR`)
	case NoImage:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"created":1713833628,"data":[]}`)
	case Forbidden:
		writeError(w, http.StatusForbidden, "invalid_request_error", "", "",
			"Your organization must be verified to use the model `gpt-image-2`.")
	case KeyInErrorBody:
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "", "Something about the key "+key+" went wrong.")
	default:
		s.success(w, rec)
	}
}

// validate applies the rules of gpt-image-2 and later (docs/providers.md,
// OpenAI); it returns OpenAI-style messages.
func validate(rec Request) (msg, param string) {
	if rec.ImagePart == "" {
		return "Missing required parameter: 'image'.", "image"
	}
	if len(rec.ImageTypes) > 16 {
		return "Too many images: at most 16.", "image"
	}
	if strings.TrimSpace(rec.Fields["prompt"]) == "" {
		return "Missing required parameter: 'prompt'.", "prompt"
	}
	model := rec.Fields["model"]
	if model == "" {
		return "Missing required parameter: 'model'.", "model"
	}
	if strings.HasPrefix(model, "gpt-image-1") || model == "chatgpt-image-latest" || strings.HasPrefix(model, "dall-e") {
		return fmt.Sprintf("The model '%s' has been shut down.", model), "model"
	}
	if _, ok := rec.Fields["input_fidelity"]; ok && strings.HasPrefix(model, "gpt-image-2") {
		return "Unknown parameter: 'input_fidelity' is not supported with model " + model + ".", "input_fidelity"
	}
	if n := rec.Fields["n"]; n != "" {
		if v, err := strconv.Atoi(n); err != nil || v < 1 || v > 10 {
			return "Invalid 'n': must be between 1 and 10.", "n"
		}
	}
	if f := rec.Fields["output_format"]; f != "" && f != "png" && f != "jpeg" && f != "webp" {
		return "Invalid 'output_format'.", "output_format"
	}
	if sz := rec.Fields["size"]; sz != "" && sz != "auto" {
		if _, _, err := ParseSize(sz); err != nil {
			return "Invalid 'size': " + err.Error(), "size"
		}
	}
	return "", ""
}

// ParseSize checks a gpt-image-2 size: W×H with both sides divisible by 16,
// aspect ratio between 1:3 and 3:1, at most 3840×2160.
func ParseSize(sz string) (w, h int, err error) {
	ws, hs, ok := strings.Cut(sz, "x")
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	switch {
	case !ok || err1 != nil || err2 != nil || w <= 0 || h <= 0:
		return 0, 0, fmt.Errorf("%q is not WxH", sz)
	case w%16 != 0 || h%16 != 0:
		return 0, 0, fmt.Errorf("both sides of %q must be divisible by 16", sz)
	case w > 3*h || h > 3*w:
		return 0, 0, fmt.Errorf("the aspect ratio of %q must be between 1:3 and 3:1", sz)
	case max(w, h) > 3840 || min(w, h) > 2160:
		return 0, 0, fmt.Errorf("%q is larger than 3840x2160", sz)
	}
	return w, h, nil
}

func (s *Server) success(w http.ResponseWriter, rec Request) {
	width, height := 1024, 1024
	if sz := rec.Fields["size"]; sz != "" && sz != "auto" {
		width, height, _ = ParseSize(sz)
	}
	body := map[string]any{
		"created":       time.Now().Unix(),
		"data":          []map[string]any{{"b64_json": base64.StdEncoding.EncodeToString(PNG(width, height))}},
		"background":    "opaque",
		"output_format": "png",
		"quality":       "high",
		"size":          fmt.Sprintf("%dx%d", width, height),
		"usage": map[string]any{"total_tokens": 100, "input_tokens": 50, "output_tokens": 50,
			"input_tokens_details":  map[string]any{"text_tokens": 10, "image_tokens": 40},
			"output_tokens_details": map[string]any{"text_tokens": 0, "image_tokens": 50}},
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

// PNG is a small real PNG of w×h pixels.
func PNG(w, h int) []byte {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetGray(x, y, color.Gray{Y: uint8((x + y) % 256)})
		}
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return buf.Bytes()
}

// mask shows a key the way OpenAI's 401 message does: first and last few
// characters only.
func mask(k string) string {
	if len(k) <= 8 {
		return "****"
	}
	return k[:3] + "*****" + k[len(k)-4:]
}
