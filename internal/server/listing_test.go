package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"frameforge/internal/disclosure"
	"frameforge/internal/imaging"
)

func heifFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "imaging", "testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// slow gives the first HEIC decode of the process time to compile the
// decoder (imaging.WarmUp), which takes seconds on a busy machine.
func slow(cfg testConfig) testConfig {
	cfg.EditTimeout, cfg.RequestTimeout = 2*time.Minute, 2*time.Minute
	return cfg
}

func withDisclosure(cfg testConfig, mode disclosure.Mode) testConfig {
	d := disclosure.Config{Mode: mode, Text: disclosure.DefaultText, Position: disclosure.BottomRight}
	cfg.Config.Disclosure, cfg.editConfig.Disclosure = d, d
	return cfg
}

// An iPhone-style HEIC, turned in its container, reaches Gemini as an
// upright JPEG; the label asked for is on the answer, same size and format.
func TestHEICEditWithDisclosure(t *testing.T) {
	st := newStack(t, slow(withDisclosure(newTestConfig(), disclosure.Optional)), serverKeys{google: true})
	r := editRequest(t, "/api/edit", filePart("image", "IMG_0001.HEIC", heifFixture(t, "irot1.heic")), fieldPart("disclosure", "true"))
	w := serve(st.h, r)
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d; body %.300s", w.Code, w.Body.String())
	}
	parts := st.gemini.Requests()[0].Parts()
	if parts[0].MIMEType != "image/jpeg" || imaging.Sniff(parts[0].Data) != imaging.TypeJPEG {
		t.Fatalf("Gemini got %s, want a JPEG", parts[0].MIMEType)
	}
	if b := decodeImage(t, parts[0].Data).Bounds(); b.Dx() != 48 || b.Dy() != 64 {
		t.Errorf("Gemini got %v, want the upright 48x64", b)
	}
	answer := st.gemini.Requests()[0].ImageSent
	if w.Header().Get(DisclosureHeader) != "labelled" || w.Header().Get("Content-Type") != imaging.Sniff(answer) {
		t.Errorf("headers %v", w.Header())
	}
	got, want := decodeImage(t, w.Body.Bytes()), decodeImage(t, answer)
	if got.Bounds() != want.Bounds() {
		t.Errorf("labelled %v, answer %v", got.Bounds(), want.Bounds())
	}
}

func TestDisclosureRefusedWhenOff(t *testing.T) {
	st := newStack(t, newTestConfig(), serverKeys{google: true})
	w := serve(st.h, editRequest(t, "/api/edit", filePart("image", "a.jpg", jpegBytes(t, 32, 32, 1)), fieldPart("disclosure", "true")))
	if e := decodeError(t, w); w.Code != http.StatusBadRequest || e.Code != "invalid_request" {
		t.Fatalf("status %d, %+v", w.Code, e)
	}
	if len(st.gemini.Requests()) != 0 {
		t.Error("the provider was called")
	}
}

func TestPreviewHEIC(t *testing.T) {
	st := newStack(t, slow(newTestConfig()), serverKeys{})
	w := serve(st.h, editRequest(t, "/api/preview", filePart("image", "a.heic", heifFixture(t, "12mp.heic"))))
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "image/jpeg" {
		t.Fatalf("status = %d, %s; body %.300s", w.Code, w.Header().Get("Content-Type"), w.Body.String())
	}
	if b := decodeImage(t, w.Body.Bytes()).Bounds(); b.Dx() != 1024 || b.Dy() != 768 {
		t.Errorf("preview %v, want 1024x768", b)
	}
	w = serve(st.h, editRequest(t, "/api/preview", filePart("image", "a.heic", heifFixture(t, "quadrants.heic")), fieldPart("max_side", "32")))
	if b := decodeImage(t, w.Body.Bytes()).Bounds(); w.Code != http.StatusOK || b.Dx() != 32 || b.Dy() != 24 {
		t.Errorf("max_side=32: status %d, %v", w.Code, b)
	}
	w = serve(st.h, editRequest(t, "/api/preview", filePart("image", "a.heic", heifFixture(t, "quadrants.heic")), fieldPart("max_side", "4096")))
	if e := decodeError(t, w); w.Code != http.StatusBadRequest || e.Code != "invalid_request" {
		t.Errorf("max_side=4096: status %d, %+v", w.Code, e)
	}
	w = serve(st.h, editRequest(t, "/api/preview", filePart("image", "a.txt", []byte("hello there"))))
	if e := decodeError(t, w); w.Code != http.StatusBadRequest || e.Code != "invalid_image" {
		t.Errorf("text: status %d, %+v", w.Code, e)
	}
}

// With no key, a HEIC comes back as the JPEG a provider would get, so the
// page can show it.
func TestFallbackHEICIsJPEG(t *testing.T) {
	st := newStack(t, slow(newTestConfig()), serverKeys{})
	w := serve(st.h, editRequest(t, "/api/edit", filePart("image", "a.heic", heifFixture(t, "quadrants.heic"))))
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "image/jpeg" || w.Header().Get(FallbackHeader) == "" {
		t.Fatalf("status %d, %v", w.Code, w.Header())
	}
}

func TestProvidersDisclosure(t *testing.T) {
	st := newStack(t, withDisclosure(newTestConfig(), disclosure.Always), serverKeys{})
	w := serve(st.h, httptest.NewRequest(http.MethodGet, "/api/providers", nil))
	var body struct {
		Disclosure struct{ Mode, Text string } `json:"disclosure"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Disclosure.Mode != "always" || body.Disclosure.Text != "Virtually staged" {
		t.Fatalf("disclosure = %+v (%v)", body.Disclosure, err)
	}
}
