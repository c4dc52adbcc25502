package gemini

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"google.golang.org/genai"

	"frameforge"
	"frameforge/internal/httpbody"
	"frameforge/internal/provider/gemini/geminitest"
)

// recorder serves the Gemini fake and keeps every raw request body.
type recorder struct {
	fake *geminitest.Server
	mu   sync.Mutex
	raw  [][]byte
}

func newRecorder(t *testing.T) (*recorder, *httptest.Server) {
	rec := &recorder{fake: geminitest.New()}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading body: %v", err)
		}
		rec.mu.Lock()
		rec.raw = append(rec.raw, body)
		rec.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec.fake.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	rec.fake.URL = ts.URL + "/"
	return rec, ts
}

// The body on the wire must be byte for byte the one the SDK sends when it
// is handed the image bytes itself: the markers are an internal detail.
func TestInlineBodyIsTheSDKsOwn(t *testing.T) {
	clearEnv(t)
	rec, ts := newRecorder(t)
	in := inputs(t)
	in = append(in, frameforge.Image{Data: testJPEG(t, 640, 480), ContentType: "image/jpeg"})
	const prompt = `Stage it; keep "quotes" & <tags> as they are`

	c := New(Config{BaseURL: rec.fake.URL, Model: testModel}, ts.Client(), nil)
	if _, err := c.Edit(t.Context(), frameforge.EditRequest{Images: in, Prompt: prompt, Key: frameforge.NewKey(rec.fake.Key, true)}); err != nil {
		t.Fatalf("Edit: %v", err)
	}

	// The same call through the bare SDK, image bytes in the parts.
	sdk, err := genai.NewClient(t.Context(), &genai.ClientConfig{
		APIKey: rec.fake.Key, Backend: genai.BackendGeminiAPI, HTTPClient: ts.Client(),
		HTTPOptions: genai.HTTPOptions{BaseURL: rec.fake.URL, APIVersion: apiVersion},
	})
	if err != nil {
		t.Fatal(err)
	}
	var ps []*genai.Part
	for _, im := range in {
		ps = append(ps, genai.NewPartFromBytes(im.Data, im.ContentType))
	}
	ps = append(ps, genai.NewPartFromText(prompt))
	if _, err := sdk.Models.GenerateContent(t.Context(), testModel,
		[]*genai.Content{genai.NewContentFromParts(ps, genai.RoleUser)}, generateConfig()); err != nil {
		t.Fatalf("bare SDK: %v", err)
	}

	if len(rec.raw) != 2 {
		t.Fatalf("fake saw %d requests; want 2", len(rec.raw))
	}
	ours, theirs := rec.raw[0], rec.raw[1]
	if !bytes.Equal(ours, theirs) {
		t.Errorf("bodies differ: ours %d bytes, the SDK's %d bytes", len(ours), len(theirs))
	}
	if want := base64.StdEncoding.EncodeToString(in[2].Data); !bytes.Contains(ours, []byte(want)) {
		t.Error("our body does not carry the photo's base64")
	}
	for _, r := range rec.fake.Requests() {
		if r.Status != http.StatusOK {
			t.Errorf("fake answered %d; want 200", r.Status)
		}
	}
}

// A body without the marker (an SDK that changed how it writes bytes) must
// fail the edit without sending anything, and without a retry.
func TestInlineMissingMarker(t *testing.T) {
	var hits int
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer ts.Close()
	tr := &inlineTransport{base: ts.Client().Transport}

	in, _, err := inlineParts([][]byte{[]byte("photo")}, []string{"image/jpeg"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := withInline(context.Background(), in)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL, strings.NewReader(`{"contents":[{"parts":[{"inlineData":{"data":"cGhvdG8="}}]}]}`))
	_, err = tr.RoundTrip(req)
	if !errors.Is(err, errMarkerMissing) {
		t.Fatalf("RoundTrip error = %v; want errMarkerMissing", err)
	}
	if hits != 0 {
		t.Errorf("server got %d requests; want none", hits)
	}
	o := classify(&httpError{err}, testModel, frameforge.NewKey("k", false))
	if o.Retry || o.Err.Code != frameforge.EInternal {
		t.Errorf("classified as %s retry=%v; want internal, no retry", o.Err.Code, o.Retry)
	}
}

// httpError wraps like http.Client.Do does (a *url.Error in real life);
// classify must look through it.
type httpError struct{ err error }

func (e *httpError) Error() string { return "Post: " + e.err.Error() }
func (e *httpError) Unwrap() error { return e.err }

// GetBody (used by net/http to resend after a dropped connection) yields
// the same bytes again, and Content-Length matches them.
func TestInlineGetBody(t *testing.T) {
	photo := testJPEG(t, 50, 40)
	in, ps, err := inlineParts([][]byte{photo}, []string{"image/jpeg"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := withInline(context.Background(), in)
	marker := base64.StdEncoding.EncodeToString(ps[0].InlineData.Data)
	body := `{"a":"` + marker + `","b":1}`
	var got *http.Request
	tr := &inlineTransport{base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	})}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://example.invalid/", strings.NewReader(body))
	if _, err := tr.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	want := `{"a":"` + base64.StdEncoding.EncodeToString(photo) + `","b":1}`
	first, _ := io.ReadAll(got.Body)
	again, _ := got.GetBody()
	second, _ := io.ReadAll(again)
	if string(first) != want || string(second) != want {
		t.Errorf("bodies %q / %q; want %q", first, second, want)
	}
	if got.ContentLength != int64(len(want)) {
		t.Errorf("ContentLength = %d; want %d", got.ContentLength, len(want))
	}
	if req.Body == nil || got == req {
		t.Error("the caller's request was modified instead of cloned")
	}

	// After a whole 200 answer the images are let go: another request of
	// the same edit fails instead of sending an empty image.
	again2, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://example.invalid/", strings.NewReader(body))
	if _, err := tr.RoundTrip(again2); !errors.Is(err, errMarkerMissing) {
		t.Errorf("second RoundTrip = %v; want errMarkerMissing", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestBase64Reader(t *testing.T) {
	for n := range 12 {
		src := bytes.Repeat([]byte{0xfb, 0xff, 0x01}, 4)[:n]
		want := []byte(base64.StdEncoding.EncodeToString(src))
		if err := iotest.TestReader(&base64Reader{src: src}, want); err != nil {
			t.Errorf("%d bytes: %v", n, err)
		}
		got, err := io.ReadAll(iotest.OneByteReader(&base64Reader{src: src}))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%d bytes, one at a time: %q, %v; want %q", n, got, err, want)
		}
	}
	big := testJPEG(t, 300, 200)
	if err := iotest.TestReader(&base64Reader{src: big}, []byte(base64.StdEncoding.EncodeToString(big))); err != nil {
		t.Errorf("photo: %v", err)
	}
}

// Answers: a large image comes back byte for byte, whether it is the only
// part or follows thought parts, and the SDK is handed a marker in its place.
func TestInlineAnswerImages(t *testing.T) {
	clearEnv(t)
	big := testJPEG(t, 400, 300)
	if len(big) < 4*minAnswerData {
		t.Fatalf("test image of %d bytes is too small to be taken out", len(big))
	}
	for _, kind := range []geminitest.Kind{geminitest.ImageOnly, geminitest.Thoughts, geminitest.ImageAndText} {
		t.Run(kind.String(), func(t *testing.T) {
			s := geminitest.NewServer(t, geminitest.WithDefault(geminitest.Scenario{Kind: kind, Image: big, ImageMIME: "image/jpeg"}))
			c := newTestClient(t, s, nil, nil)
			img, err := c.Edit(t.Context(), frameforge.EditRequest{Images: inputs(t), Prompt: "p", Key: serverKey(s)})
			if err != nil {
				t.Fatalf("Edit: %v", err)
			}
			if !bytes.Equal(img.Data, big) || img.ContentType != "image/jpeg" || img.Width != 400 {
				t.Errorf("got %s %dx%d, %d bytes; want the fake's 400x300 JPEG of %d bytes", img.ContentType, img.Width, img.Height, len(img.Data), len(big))
			}
		})
	}

	// What the SDK reads: the answer with a marker where the image was.
	s := geminitest.NewServer(t, geminitest.WithDefault(geminitest.Scenario{Kind: geminitest.ImageOnly, Image: big}))
	in, ps, err := inlineParts([][]byte{testJPEG(t, 20, 20)}, []string{"image/jpeg"})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"contents":[{"role":"user","parts":[{"inlineData":{"mimeType":"image/jpeg","data":"` +
		base64.StdEncoding.EncodeToString(ps[0].InlineData.Data) + `"}},{"text":"p"}]}],` +
		`"generationConfig":{"responseModalities":["IMAGE"]}}`
	req, _ := http.NewRequestWithContext(withInline(t.Context(), in), http.MethodPost,
		s.URL+"v1beta/models/"+testModel+":generateContent", strings.NewReader(body))
	req.Header.Set("x-goog-api-key", s.Key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&inlineTransport{base: s.Client().Transport}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || len(answer) > 2048 || resp.ContentLength != int64(len(answer)) {
		t.Fatalf("status %d, %d bytes (Content-Length %d); want 200 with a small body", resp.StatusCode, len(answer), resp.ContentLength)
	}
	if len(in.answers) != 1 {
		t.Fatalf("%d images taken out; want 1", len(in.answers))
	}
	for raw, img := range in.answers {
		if !bytes.Equal(img, big) {
			t.Errorf("taken image is %d bytes; want the %d the fake sent", len(img), len(big))
		}
		if !bytes.Contains(answer, []byte(`"`+base64.StdEncoding.EncodeToString([]byte(raw))+`"`)) {
			t.Errorf("the answer does not carry the marker: %s", answer)
		}
	}
}

func TestTakeImages(t *testing.T) {
	// Bytes whose base64 has '+' and '/' in it.
	photo := bytes.Repeat([]byte{1, 2, 3, 0xfb, 0xef, 0xbe, 0xff, 0xff, 0xff}, 300)
	b64 := base64.StdEncoding.EncodeToString(photo)
	urlSafe := strings.NewReplacer("+", "-", "/", "_").Replace(b64)
	cases := []struct {
		name, body string
		taken      int
	}{
		{"compact", `{"inlineData":{"mimeType":"image/png","data":"` + b64 + `"}}`, 1},
		{"spaced", "{\"inlineData\": {\n  \"data\" :\t \"" + b64 + "\"\n}}", 1},
		{"two images", `[{"data":"` + b64 + `"},{"text":"x"},{"data":"` + b64 + `"}]`, 2},
		{"short", `{"data":"aGVsbG8="}`, 0},
		{"url-safe is left to the SDK", `{"data":"` + urlSafe + `"}`, 0},
		{"escaped slashes are left to the SDK", `{"data":"` + strings.ReplaceAll(b64, "/", `\/`) + `"}`, 0},
		{"inside a text", `{"text":"say \"data\": \"` + b64 + `\" ok"}`, 0},
		{"a key quoting data", `{"x\"data":"` + b64 + `"}`, 0},
		{"not a key", `{"text":"data","data2":"` + b64 + `"}`, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := &inlineImages{answers: map[string][]byte{}}
			got := in.takeImages([]byte(c.body))
			if len(in.answers) != c.taken {
				t.Fatalf("took %d images; want %d", len(in.answers), c.taken)
			}
			// Markers are random: compare with each marker and its image
			// taken out.
			want := c.body
			for raw, img := range in.answers {
				if !bytes.Equal(img, photo) {
					t.Errorf("taken image differs from the encoded one")
				}
				marker := []byte(base64.StdEncoding.EncodeToString([]byte(raw)))
				if !bytes.Contains(got, append(append([]byte(`"`), marker...), '"')) {
					t.Errorf("marker %s is not in the body as a string", marker)
				}
				got = bytes.Replace(got, marker, nil, 1)
				want = strings.Replace(want, b64, "", 1)
			}
			if string(got) != want {
				t.Errorf("body = %.200q; want %.200q", got, want)
			}
		})
	}
}

// An answer declaring more than maxAnswerBytes is refused before it is read,
// and the edit fails as a bad answer, not retried.
func TestInlineAnswerTooLarge(t *testing.T) {
	in, ps, err := inlineParts([][]byte{[]byte("photo")}, []string{"image/jpeg"})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"data":"` + base64.StdEncoding.EncodeToString(ps[0].InlineData.Data) + `"}`
	read := false
	tr := &inlineTransport{base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, ContentLength: maxAnswerBytes + 1, Header: http.Header{}, Request: r,
			Body: io.NopCloser(readFunc(func([]byte) (int, error) { read = true; return 0, io.EOF }))}, nil
	})}
	req, _ := http.NewRequestWithContext(withInline(context.Background(), in), http.MethodPost, "http://example.invalid/", strings.NewReader(body))
	_, err = tr.RoundTrip(req)
	if !errors.Is(err, httpbody.ErrTooLarge) || read {
		t.Fatalf("RoundTrip = %v (body read: %v); want ErrTooLarge without reading", err, read)
	}
	o := classify(&httpError{err}, testModel, frameforge.NewKey("k", false))
	if o.Retry || o.Err.Code != frameforge.EUpstreamError {
		t.Errorf("classified as %s retry=%v; want upstream_error, no retry", o.Err.Code, o.Retry)
	}
}

type readFunc func([]byte) (int, error)

func (f readFunc) Read(p []byte) (int, error) { return f(p) }
