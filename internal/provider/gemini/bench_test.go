package gemini

import (
	"bytes"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"testing"
	"time"

	"frameforge"
	"frameforge/internal/provider/gemini/geminitest"
)

// noisyJPEG is a 12 MP photo stand-in: a gradient with per-pixel noise, so
// the JPEG is as large as a real camera picture rather than a flat image.
func noisyJPEG(tb testing.TB, w, h int) []byte {
	tb.Helper()
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	rng := rand.New(rand.NewPCG(1, 2))
	for y := range h {
		for x := range w {
			img.Y[y*img.YStride+x] = uint8((x+y)/32) + uint8(rng.IntN(48))
		}
	}
	for i := range img.Cb {
		img.Cb[i] = 128 + uint8(rng.IntN(16))
		img.Cr[i] = 120 + uint8(rng.IntN(16))
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkEdit measures one edit of a ~12 MP JPEG against the in-process
// fake: JSON/base64 encoding in the SDK, HTTP, and the fake's decoding (its
// allocations count in B/op too).
func BenchmarkEdit(b *testing.B) {
	b.Setenv("GEMINI_API_KEY", "")
	b.Setenv("GOOGLE_API_KEY", "")
	photo := noisyJPEG(b, 4000, 3000)
	s := geminitest.NewServer(b, geminitest.WithDefault(geminitest.Scenario{Kind: geminitest.ImageOnly}),
		geminitest.WithMaxRequestBytes(64<<20))
	c := New(Config{BaseURL: s.URL, Model: testModel, BaseBackoff: time.Millisecond}, s.Client(), nil)
	req := frameforge.EditRequest{
		Images: []frameforge.Image{{Data: photo, ContentType: "image/jpeg"}},
		Prompt: "Stage this empty living room with mid-century furniture",
		Key:    frameforge.NewKey(s.Key, false),
	}
	b.SetBytes(int64(len(photo)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Edit(b.Context(), req); err != nil {
			b.Fatal(err)
		}
		s.Reset() // drop the recorded body so memory stays flat
	}
	b.ReportMetric(float64(len(photo))/1e6, "MB-jpeg")
}
