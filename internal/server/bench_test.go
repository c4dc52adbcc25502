package server

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"

	"frameforge/internal/imaging/imagingtest"
	"frameforge/internal/provider"
	"frameforge/internal/provider/gemini/geminitest"
)

// phoneJPEG12MP is a 4000×3000 photo-like JPEG with EXIF and GPS, upright:
// the common case, which takes the strip-only fast path.
func phoneJPEG12MP(b *testing.B) []byte {
	b.Helper()
	return imagingtest.WithEXIF(imagingtest.JPEG(b, imagingtest.Photo(b, 4000, 3000), 90), 1, true)
}

// benchEdit posts the same upload b.N times through the real handler and
// reports time and bytes allocated per edit, and the allocation as a
// multiple of the input file.
func benchEdit(b *testing.B, h http.Handler, target string, img []byte, header ...string) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("image", "room.jpg")
	fw.Write(img)
	mw.Close()
	payload, ct := body.Bytes(), mw.FormDataContentType()
	b.SetBytes(int64(len(img)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(payload))
		r.Header.Set("Content-Type", ct)
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %.200s", w.Code, w.Body.String())
		}
		io.Copy(io.Discard, w.Body)
	}
}

func benchConfig() Config {
	cfg := testConfig()
	cfg.Limits.MaxImageBytes, cfg.Limits.MaxRequestBytes, cfg.Limits.MaxPixels = 40<<20, 40<<20, 100_000_000
	return cfg
}

// BenchmarkEditGemini12MP measures the whole edit path against the fake
// Gemini (in-process: its base64 decoding and JSON parsing count too).
func BenchmarkEditGemini12MP(b *testing.B) {
	st := newStack(b, benchConfig(), serverKeys{google: true})
	st.gemini.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly})
	benchEdit(b, st.h, "/api/edit", phoneJPEG12MP(b))
}

// BenchmarkEditFal12MP measures the whole edit path against the fake fal
// queue (in-process), the photo uploaded to its storage first.
func BenchmarkEditFal12MP(b *testing.B) {
	st := newStack(b, benchConfig(), serverKeys{fal: true})
	benchEdit(b, st.h, "/api/edit?provider=fal:fal-ai/nano-banana/edit", phoneJPEG12MP(b))
}

// BenchmarkEditFallback2MB is the no-key path: parse, check, echo.
func BenchmarkEditFallback2MB(b *testing.B) {
	h, _ := newTestServer(b, benchConfig(), provider.Entry{}, provider.Entry{})
	img := imagingtest.JPEG(b, imagingtest.Photo(b, 1600, 1200), 97)
	benchEdit(b, h, "/api/edit", img)
}
