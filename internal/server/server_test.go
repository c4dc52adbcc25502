package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"frameforge"
	"frameforge/internal/provider"
)

func TestHealthIsCompatByteForByte(t *testing.T) {
	h, _ := newTestServer(t, newTestConfig(), provider.Entry{}, provider.Entry{})
	w := serve(h, httptest.NewRequest(http.MethodGet, "/api/health", nil))
	if w.Code != http.StatusOK || w.Body.String() != `{"status":"ok"}` {
		t.Fatalf("GET /api/health = %d %q; want 200 {\"status\":\"ok\"}", w.Code, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q; want application/json", ct)
	}
}

func TestProviders(t *testing.T) {
	h, _ := newTestServer(t, newTestConfig(),
		provider.Entry{ServerKey: "g-secret", Model: "gemini-3.1-flash-image"}, provider.Entry{})
	w := serve(h, httptest.NewRequest(http.MethodGet, "/api/providers", nil))
	var got struct {
		Default   string          `json:"default"`
		Available []string        `json:"available"`
		Providers []provider.Info `json:"providers"`
		Limits    struct {
			MaxImageBytes int64 `json:"max_image_bytes"`
			MaxImages     int   `json:"max_images"`
		} `json:"limits"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Default != "google" || strings.Join(got.Available, ",") != "google,nano-banana" {
		t.Errorf("default/available = %q %q; want google [google nano-banana]", got.Default, got.Available)
	}
	if len(got.Providers) != 2 || !got.Providers[0].Configured || got.Providers[1].Configured {
		t.Errorf("providers = %+v; want google configured, fal not", got.Providers)
	}
	if got.Limits.MaxImageBytes != 2<<20 || got.Limits.MaxImages != 3 {
		t.Errorf("limits = %+v; want the configured 2 MiB and 3 images", got.Limits)
	}
	if strings.Contains(w.Body.String(), "g-secret") {
		t.Errorf("providers body leaks the server key: %s", w.Body.String())
	}
}

func TestEditFallbackReturnsFirstUploadInOrder(t *testing.T) {
	a, b, c := jpegBytes(t, 16, 16, 10), pngBytes(t, 8, 8, 20), jpegBytes(t, 16, 16, 30)
	tests := []struct {
		name   string
		target string
		parts  []part
		want   []byte
		wantCT string
		wantID string
	}{
		{"image field (shipped client)", "/api/edit", []part{filePart("image", "a.jpg", a)}, a, "image/jpeg", "google"},
		{"images field (python name)", "/api/edit", []part{filePart("images", "b.png", b)}, b, "image/png", "google"},
		{"mixed fields keep upload order", "/api/edit",
			[]part{filePart("images", "b.png", b), filePart("image", "a.jpg", a), filePart("images", "c.jpg", c)}, b, "image/png", "google"},
		{"alias nano-banana", "/api/edit", []part{filePart("image", "a.jpg", a), fieldPart("provider", "nano-banana")}, a, "image/jpeg", "google"},
		{"case-insensitive and trimmed", "/api/edit", []part{filePart("image", "a.jpg", a), fieldPart("provider", "  GOOGLE ")}, a, "image/jpeg", "google"},
		{"fal model from form", "/api/edit", []part{filePart("image", "a.jpg", a), fieldPart("provider", "fal:fal-ai/flux-kontext/dev")}, a, "image/jpeg", "fal:fal-ai/flux-kontext/dev"},
		{"provider from query", "/api/edit?provider=fal:fal-ai/qwen-image-edit", []part{filePart("image", "a.jpg", a)}, a, "image/jpeg", "fal:fal-ai/qwen-image-edit"},
		{"form field wins over query", "/api/edit?provider=fal:fal-ai/qwen-image-edit",
			[]part{filePart("image", "a.jpg", a), fieldPart("provider", "google")}, a, "image/jpeg", "google"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, logs := newTestServer(t, newTestConfig(), provider.Entry{}, provider.Entry{})
			w := serve(h, editRequest(t, tt.target, tt.parts...))
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d; want 200; body %s", w.Code, w.Body.String())
			}
			if !bytes.Equal(w.Body.Bytes(), tt.want) {
				t.Errorf("body is not the expected first upload (%d bytes; want %d)", w.Body.Len(), len(tt.want))
			}
			if ct := w.Header().Get("Content-Type"); ct != tt.wantCT {
				t.Errorf("Content-Type = %q; want %q", ct, tt.wantCT)
			}
			if w.Header().Get("Content-Length") == "" {
				t.Error("Content-Length not set")
			}
			if fb := w.Header().Get(FallbackHeader); !strings.Contains(fb, "no-api-key") {
				t.Errorf("%s = %q; want it to say no-api-key", FallbackHeader, fb)
			}
			if id := w.Header().Get("X-FrameForge-Provider"); id != tt.wantID {
				t.Errorf("X-FrameForge-Provider = %q; want %q", id, tt.wantID)
			}
			if !contains(logs.String(), `"level":"WARN"`, "development fallback", tt.wantID) {
				t.Errorf("no fallback warning naming %s in log:\n%s", tt.wantID, logs.String())
			}
		})
	}
}

// pngClaiming builds a structurally valid, tiny PNG whose header claims w×h.
func pngClaiming(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		b.WriteString(typ)
		b.Write(data)
		_ = binary.Write(&b, binary.BigEndian, crc.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return b.Bytes()
}

// heicBytes is the start of a HEIC file: an ftyp box with the heic brand.
func heicBytes() []byte {
	b := []byte{0, 0, 0, 24, 'f', 't', 'y', 'p', 'h', 'e', 'i', 'c', 0, 0, 0, 0, 'm', 'i', 'f', '1', 'h', 'e', 'i', 'c'}
	return append(b, make([]byte, 1000)...)
}

func TestEditRefusesBadInput(t *testing.T) {
	good := jpegBytes(t, 32, 32, 1)
	big := bytes.Repeat([]byte{0xff}, 2<<20+1) // over the 2 MiB test limit per file
	tests := []struct {
		name        string
		req         func(t *testing.T) *http.Request
		wantStatus  int
		wantCode    string
		wantInStory []string // words the detail must contain
	}{
		{"not multipart", func(t *testing.T) *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/api/edit", strings.NewReader(`{"prompt":"x"}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, 400, frameforge.EInvalidRequest, []string{"multipart/form-data"}},
		{"no content type", func(t *testing.T) *http.Request {
			return httptest.NewRequest(http.MethodPost, "/api/edit", strings.NewReader("hello"))
		}, 400, frameforge.EInvalidRequest, []string{"multipart/form-data"}},
		{"malformed multipart", func(t *testing.T) *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/api/edit", strings.NewReader("this is not multipart at all"))
			r.Header.Set("Content-Type", "multipart/form-data; boundary=XYZ")
			return r
		}, 400, frameforge.EInvalidRequest, []string{"malformed"}},
		{"multipart cut off mid-file", func(t *testing.T) *http.Request {
			body, ct := multipartBody(t, filePart("image", "a.jpg", good))
			b, _ := readAll(body)
			r := httptest.NewRequest(http.MethodPost, "/api/edit", bytes.NewReader(b[:len(b)/2]))
			r.Header.Set("Content-Type", ct)
			return r
		}, 400, frameforge.EInvalidRequest, []string{"ended early"}},
		{"no image", func(t *testing.T) *http.Request {
			return editRequest(t, "/api/edit", fieldPart("prompt", "stage it"))
		}, 400, frameforge.EMissingImage, []string{"'image'"}},
		{"empty file", func(t *testing.T) *http.Request {
			return editRequest(t, "/api/edit", filePart("image", "room.jpg", nil))
		}, 400, frameforge.EInvalidImage, []string{"room.jpg", "empty"}},
		{"text file", func(t *testing.T) *http.Request {
			return editRequest(t, "/api/edit", filePart("image", "room.txt", []byte("just some notes about the room\n")))
		}, 400, frameforge.EInvalidImage, []string{"room.txt", "not an image", "text/plain"}},
		{"truncated jpeg", func(t *testing.T) *http.Request {
			return editRequest(t, "/api/edit", filePart("image", "cut.jpg", good[:len(good)/2]))
		}, 400, frameforge.EInvalidImage, []string{"cut.jpg", "truncated"}},
		{"heic", func(t *testing.T) *http.Request {
			return editRequest(t, "/api/edit", filePart("image", "IMG_0001.HEIC", heicBytes()))
		}, 415, frameforge.EUnsupportedImage, []string{"IMG_0001.HEIC", "(HEIC)", "JPEG"}},
		{"file over the per-image limit", func(t *testing.T) *http.Request {
			return editRequest(t, "/api/edit", filePart("image", "huge.jpg", big))
		}, 413, frameforge.EImageTooLarge, []string{"huge.jpg", "2.0 MiB"}},
		{"request over the total limit", func(t *testing.T) *http.Request {
			third := big[:1<<20]
			return editRequest(t, "/api/edit", filePart("image", "1.jpg", big[:2<<20]), filePart("image", "2.jpg", big[:2<<20]), filePart("image", "3.jpg", third))
		}, 413, frameforge.ERequestTooLarge, []string{"5.0 MiB"}},
		{"streamed body over the total limit", func(t *testing.T) *http.Request {
			// Valid JPEGs padded after EOI (as phones append data) to 1.9 MiB each.
			padded := append(append([]byte{}, good...), make([]byte, 1900<<10-len(good))...)
			r := editRequest(t, "/api/edit", filePart("image", "1.jpg", padded), filePart("image", "2.jpg", padded), filePart("image", "3.jpg", padded))
			r.ContentLength = -1 // chunked: the limit must hold while streaming
			return r
		}, 413, frameforge.ERequestTooLarge, []string{"5.0 MiB"}},
		{"content-length over the total limit", func(t *testing.T) *http.Request {
			r := editRequest(t, "/api/edit", filePart("image", "a.jpg", good))
			r.ContentLength = 6 << 20
			return r
		}, 413, frameforge.ERequestTooLarge, []string{"limit"}},
		{"too many images", func(t *testing.T) *http.Request {
			return editRequest(t, "/api/edit", filePart("image", "1.jpg", good), filePart("image", "2.jpg", good),
				filePart("images", "3.jpg", good), filePart("images", "4.jpg", good))
		}, 413, frameforge.ETooManyImages, []string{"at most 3"}},
		{"pixel bomb", func(t *testing.T) *http.Request {
			return editRequest(t, "/api/edit", filePart("image", "bomb.png", pngClaiming(30000, 30000)))
		}, 413, frameforge.ETooManyPixels, []string{"bomb.png", "30000×30000", "900.0 MP"}},
		{"unknown provider", func(t *testing.T) *http.Request {
			return editRequest(t, "/api/edit", filePart("image", "a.jpg", good), fieldPart("provider", "dall-e"))
		}, 400, frameforge.EUnknownProvider, []string{"dall-e", "google", "nano-banana", "fal:"}},
		{"fal without model", func(t *testing.T) *http.Request {
			return editRequest(t, "/api/edit?provider=fal:", filePart("image", "a.jpg", good))
		}, 400, frameforge.EUnknownProvider, []string{"fal:", "model path"}},
		{"fal path traversal", func(t *testing.T) *http.Request {
			return editRequest(t, "/api/edit", filePart("image", "a.jpg", good), fieldPart("provider", "fal:fal-ai/../admin"))
		}, 400, frameforge.EUnknownProvider, []string{"fal-ai/../admin", "dot segment"}},
		{"prompt too long", func(t *testing.T) *http.Request {
			return editRequest(t, "/api/edit", filePart("image", "a.jpg", good), fieldPart("prompt", strings.Repeat("x", 17<<10)))
		}, 400, frameforge.EInvalidRequest, []string{"prompt", "too long"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newTestServer(t, newTestConfig(), provider.Entry{}, provider.Entry{})
			start := time.Now()
			w := serve(h, tt.req(t))
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d; want %d; body %.300q", w.Code, tt.wantStatus, w.Body.String())
			}
			e := decodeError(t, w)
			if e.Code != tt.wantCode {
				t.Errorf("code = %q; want %q", e.Code, tt.wantCode)
			}
			if !contains(e.Detail, tt.wantInStory...) {
				t.Errorf("detail = %q; want it to mention %q", e.Detail, tt.wantInStory)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %s; bad input must be refused at once", d)
			}
		})
	}
}

func readAll(r interface{ Read([]byte) (int, error) }) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(r)
	return b.Bytes(), err
}

func TestUnknownRoutesAreJSON(t *testing.T) {
	h, _ := newTestServer(t, newTestConfig(), provider.Entry{}, provider.Entry{})
	tests := []struct {
		method, path string
		status       int
		code         string
	}{
		{http.MethodGet, "/nope", 404, frameforge.ENotFound},
		{http.MethodGet, "/assets/nope.js", 404, frameforge.ENotFound}, // inside the page's route
		{http.MethodPost, "/", 405, frameforge.EMethodNotAllowed},
		{http.MethodGet, "/api/edit", 405, frameforge.EMethodNotAllowed},
		{http.MethodDelete, "/api/health", 405, frameforge.EMethodNotAllowed},
	}
	for _, tt := range tests {
		w := serve(h, httptest.NewRequest(tt.method, tt.path, nil))
		if w.Code != tt.status {
			t.Errorf("%s %s = %d; want %d", tt.method, tt.path, w.Code, tt.status)
			continue
		}
		if e := decodeError(t, w); e.Code != tt.code {
			t.Errorf("%s %s code = %q; want %q", tt.method, tt.path, e.Code, tt.code)
		}
		if tt.status == 405 && w.Header().Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow header", tt.method, tt.path)
		}
	}
}

// panicProvider panics inside Edit: the recoverer must turn that into a JSON 500.
type panicProvider struct{}

func (panicProvider) Edit(context.Context, frameforge.EditRequest) (frameforge.Image, error) {
	panic("provider bug")
}

func TestPanicBecomesJSON500(t *testing.T) {
	h, logs := newTestServer(t, newTestConfig(), provider.Entry{Provider: panicProvider{}, ServerKey: "k"}, provider.Entry{})
	w := serve(h, editRequest(t, "/api/edit", filePart("image", "a.jpg", jpegBytes(t, 8, 8, 1))))
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d; want 500", w.Code)
	}
	e := decodeError(t, w)
	if e.Code != frameforge.EInternal || strings.Contains(e.Detail, "provider bug") {
		t.Errorf("error = %+v; want internal_error without the panic text", e)
	}
	if !contains(logs.String(), "panic serving request", "provider bug", e.RequestID) {
		t.Errorf("panic not logged with its request id:\n%s", logs.String())
	}
}

func TestRequestID(t *testing.T) {
	h, logs := newTestServer(t, newTestConfig(), provider.Entry{}, provider.Entry{})
	r := httptest.NewRequest(http.MethodGet, "/api/health", nil)
	r.Header.Set("X-Request-ID", "client-id-123")
	if got := serve(h, r).Header().Get("X-Request-ID"); got != "client-id-123" {
		t.Errorf("X-Request-ID = %q; want the client's id echoed", got)
	}
	r = httptest.NewRequest(http.MethodGet, "/api/health", nil)
	r.Header.Set("X-Request-ID", "bad\nid")
	if got := serve(h, r).Header().Get("X-Request-ID"); len(got) != 32 {
		t.Errorf("X-Request-ID = %q; want a generated 32-hex id for an unsafe client id", got)
	}
	if !contains(logs.String(), `"msg":"request"`, `"route":"GET /api/health"`, `"status":200`, `"request_id":"client-id-123"`, `"duration"`, `"bytes":15`) {
		t.Errorf("access log line missing fields:\n%s", logs.String())
	}
}

func TestCORS(t *testing.T) {
	cfg := newTestConfig()
	cfg.AllowedOrigins = []string{"http://localhost:5173"}
	h, _ := newTestServer(t, cfg, provider.Entry{}, provider.Entry{})
	r := httptest.NewRequest(http.MethodOptions, "/api/edit", nil)
	r.Header.Set("Origin", "http://localhost:5173")
	r.Header.Set("Access-Control-Request-Method", "POST")
	// As browsers send it: lower case, sorted, no spaces.
	r.Header.Set("Access-Control-Request-Headers", "authorization,x-fal-key,x-gemini-api-key,x-google-api-key")
	w := serve(h, r)
	if w.Code/100 != 2 || w.Header().Get("Access-Control-Allow-Origin") != "http://localhost:5173" {
		t.Fatalf("preflight = %d, allow-origin %q; want 2xx for the configured origin", w.Code, w.Header().Get("Access-Control-Allow-Origin"))
	}
	if ah := strings.ToLower(w.Header().Get("Access-Control-Allow-Headers")); !contains(ah, "x-google-api-key", "x-fal-key", "authorization") {
		t.Errorf("Access-Control-Allow-Headers = %q; want the key headers", ah)
	}
	r = httptest.NewRequest(http.MethodGet, "/api/health", nil)
	r.Header.Set("Origin", "https://evil.example")
	if got := serve(h, r).Header().Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("other origin got Access-Control-Allow-Origin %q; want none", got)
	}
}

func TestKeysNeverLogged(t *testing.T) {
	keys := map[string]string{
		"X-Google-API-Key": "AIzaGOOGLEHEADERSECRET",
		"X-Gemini-API-Key": "AIzaGEMINIHEADERSECRET",
		"X-Fal-Key":        "falid:FALHEADERSECRET",
		"Authorization":    "Bearer BEARERSECRET",
	}
	// A provider that fails, so the error path and its logging run too.
	h, logs := newTestServer(t, newTestConfig(), provider.Entry{Provider: failingProvider{}, ServerKey: "SERVERGOOGLESECRET"},
		provider.Entry{Provider: failingProvider{}, ServerKey: "SERVERFALSECRET"})
	for _, prov := range []string{"google", "fal:fal-ai/nano-banana/edit", "dall-e"} {
		r := editRequest(t, "/api/edit", filePart("image", "a.jpg", jpegBytes(t, 8, 8, 1)), fieldPart("provider", prov))
		for k, v := range keys {
			r.Header.Set(k, v)
		}
		w := serve(h, r)
		for _, v := range append(mapValues(keys), "SERVERGOOGLESECRET", "SERVERFALSECRET") {
			secret := strings.TrimPrefix(v, "Bearer ")
			if strings.Contains(w.Body.String(), secret) || strings.Contains(strings.Join(flatten(w.Header()), " "), secret) {
				t.Errorf("provider %s: response echoes a key", prov)
			}
		}
	}
	for _, v := range append(mapValues(keys), "SERVERGOOGLESECRET", "SERVERFALSECRET") {
		if strings.Contains(logs.String(), strings.TrimPrefix(v, "Bearer ")) {
			t.Errorf("log contains key %q:\n%s", v, logs.String())
		}
	}
}

// failingProvider returns an error whose internal cause quotes the key, as a
// careless upstream error might; only the public message may reach anyone.
type failingProvider struct{}

func (failingProvider) Edit(_ context.Context, req frameforge.EditRequest) (frameforge.Image, error) {
	return frameforge.Image{}, &frameforge.Error{Code: frameforge.EUpstreamError, Message: "The provider failed.",
		Err: errString("upstream said: bad key " + req.Key.Reveal())}
}

type errString string

func (e errString) Error() string { return string(e) }

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func flatten(h http.Header) []string {
	var out []string
	for k, vs := range h {
		out = append(out, k+": "+strings.Join(vs, ","))
	}
	return out
}

func TestErrorStatusTable(t *testing.T) {
	tests := []struct {
		code string
		want int
	}{
		{frameforge.EInvalidImage, 400}, {frameforge.EUnsupportedImage, 415}, {frameforge.ETooManyPixels, 413},
		{frameforge.EUnknownProvider, 400}, {frameforge.EInvalidAPIKey, 401}, {frameforge.EProviderAuth, 502},
		{frameforge.EContentBlocked, 422}, {frameforge.EUpstreamRateLimit, 429}, {frameforge.EUpstreamUnavail, 503},
		{frameforge.EUpstreamError, 502}, {frameforge.EUpstreamTimeout, 504}, {frameforge.ERequestTimeout, 408},
		{frameforge.EOverloaded, 503}, {"something-new", 500},
	}
	for _, tt := range tests {
		if got := ErrorStatus(tt.code); got != tt.want {
			t.Errorf("ErrorStatus(%q) = %d; want %d", tt.code, got, tt.want)
		}
	}
}

func TestRetryAfterHeader(t *testing.T) {
	h, _ := newTestServer(t, newTestConfig(), provider.Entry{Provider: rateLimitedProvider{}, ServerKey: "k"}, provider.Entry{})
	w := serve(h, editRequest(t, "/api/edit", filePart("image", "a.jpg", jpegBytes(t, 8, 8, 1))))
	if w.Code != 429 || w.Header().Get("Retry-After") != "54" {
		t.Errorf("status %d Retry-After %q; want 429 and 54 (53.2s rounded up)", w.Code, w.Header().Get("Retry-After"))
	}
}

type rateLimitedProvider struct{}

func (rateLimitedProvider) Edit(context.Context, frameforge.EditRequest) (frameforge.Image, error) {
	return frameforge.Image{}, &frameforge.Error{Code: frameforge.EUpstreamRateLimit, Message: "Quota exhausted.", RetryAfter: 53200 * time.Millisecond}
}

// TestSlowUploadIs408 runs the handler behind a real listener whose read
// deadline passes mid-upload: the client is too slow, not the server.
func TestSlowUploadIs408(t *testing.T) {
	h, _ := newTestServer(t, newTestConfig(), provider.Entry{}, provider.Entry{})
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Start()
	defer srv.Close()
	body, ct := multipartBody(t, filePart("image", "a.jpg", jpegBytes(t, 64, 64, 1)))
	b, _ := readAll(body)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/edit HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", ct, len(b))
	conn.Write(b[:len(b)/2]) // and then nothing: the rest never comes
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("status = %d; want 408", resp.StatusCode)
	}
}
