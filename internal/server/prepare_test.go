package server

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"frameforge/internal/imaging/imagingtest"
	"frameforge/internal/provider"
)

// sidewaysPhoto is what a phone writes for a portrait shot: the pixels are
// stored landscape (w×h) with EXIF orientation 6 and a GPS position. The
// left half is red, so "upright" means red on top.
func sidewaysPhoto(tb testing.TB, w, h int) []byte {
	tb.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{240, 240, 240, 255}
			if x < w/2 {
				c = color.RGBA{220, 20, 20, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return imagingtest.WithEXIF(imagingtest.JPEG(tb, img, 90), 6, true)
}

func isRed(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return r>>8 > 150 && g>>8 < 100 && b>>8 < 100
}

// checkPrepared asserts what left the server: upright, no EXIF, no GPS.
func checkPrepared(t *testing.T, sent []byte, wantW, wantH int) {
	t.Helper()
	img := decodeImage(t, sent)
	if b := img.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
		t.Fatalf("sent image is %dx%d; want %dx%d (upright)", b.Dx(), b.Dy(), wantW, wantH)
	}
	if !isRed(img.At(wantW/2, wantH/8)) || isRed(img.At(wantW/2, wantH*7/8)) {
		t.Error("sent image is not upright: red must be on top")
	}
	if bytes.Contains(sent, []byte("Exif\x00\x00")) || bytes.Contains(sent, []byte(imagingtest.GPSMake)) {
		t.Error("EXIF left the server")
	}
	if bytes.Contains(sent, imagingtest.GPSLatitude(binary.LittleEndian)) {
		t.Error("the GPS position left the server")
	}
}

func TestPhonePhotosArriveUprightAndClean(t *testing.T) {
	photo := sidewaysPhoto(t, 80, 40)
	t.Run("gemini", func(t *testing.T) {
		st := newStack(t, newTestConfig(), serverKeys{google: true})
		w := serve(st.h, editRequest(t, "/api/edit", filePart("image", "portrait.jpg", photo)))
		if w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
		checkPrepared(t, st.gemini.Requests()[0].Parts()[0].Data, 40, 80)
	})
	t.Run("fal", func(t *testing.T) {
		st := newStack(t, newTestConfig(), serverKeys{fal: true})
		w := serve(st.h, editRequest(t, "/api/edit?provider=fal:fal-ai/nano-banana/edit", filePart("image", "portrait.jpg", photo)))
		if w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
		checkPrepared(t, st.fal.Submits()[0].Images[0].Data, 40, 80)
	})
	t.Run("fallback returns the user's own photo untouched", func(t *testing.T) {
		h, _ := newTestServer(t, newTestConfig(), provider.Entry{}, provider.Entry{})
		w := serve(h, editRequest(t, "/api/edit", filePart("image", "portrait.jpg", photo)))
		if !bytes.Equal(w.Body.Bytes(), photo) {
			t.Error("fallback changed the photo; it only echoes it back to its owner")
		}
	})
}

func TestLargePhotoIsScaledDown(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes a 48 MP JPEG")
	}
	cfg := newTestConfig()
	cfg.Limits.MaxImageBytes, cfg.Limits.MaxRequestBytes, cfg.Limits.MaxPixels = 40<<20, 40<<20, 100_000_000
	cfg.EditTimeout = 5 * time.Minute // decoding 48 MP under the race detector takes a while
	st := newStack(t, cfg, serverKeys{google: true})
	big := imagingtest.JPEG(t, imagingtest.Photo(t, 8000, 6000), 85) // 48 MP, as a phone's high-resolution mode
	w := serve(st.h, editRequest(t, "/api/edit", filePart("image", "48mp.jpg", big)))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %.300s", w.Code, w.Body.String())
	}
	sent := decodeImage(t, st.gemini.Requests()[0].Parts()[0].Data).Bounds()
	if sent.Dx() != 4096 || sent.Dy() != 3072 {
		t.Errorf("sent %dx%d; want 4096x3072 (longest side IMAGE_MAX_SIDE, aspect kept)", sent.Dx(), sent.Dy())
	}
}

func TestUpstreamByteBudget(t *testing.T) {
	cfg := newTestConfig()
	cfg.Limits.MaxImageBytes, cfg.Limits.MaxRequestBytes = 10<<20, 10<<20
	cfg.UpstreamBytes = 600 << 10 // 300 KiB for each of two photos
	// Fitting two noisy photos into the budget takes several encodes: under
	// the race detector on a busy machine that outlasts the usual test
	// deadline, which is not what this test is about.
	cfg.EditTimeout, cfg.EditQueueTimeout = time.Minute, time.Minute
	st := newStack(t, cfg, serverKeys{google: true})
	photo := imagingtest.JPEG(t, imagingtest.Photo(t, 1600, 1200), 95) // ~1 MB of noise
	w := serve(st.h, editRequest(t, "/api/edit", filePart("image", "a.jpg", photo), filePart("image", "b.jpg", photo)))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body.String())
	}
	total := 0
	for _, p := range st.gemini.Requests()[0].Parts()[:2] {
		total += len(p.Data)
		if b := decodeImage(t, p.Data).Bounds(); b.Dx()*3 != b.Dy()*4 && (b.Dx()*3-b.Dy()*4 > 4 || b.Dy()*4-b.Dx()*3 > 4) {
			t.Errorf("aspect ratio lost: %dx%d", b.Dx(), b.Dy())
		}
	}
	if total > 600<<10 || total < 100<<10 {
		t.Errorf("sent %d bytes in all; want within the 600 KiB budget (and not absurdly small)", total)
	}
}

// A photo whose container is sound but whose pixels do not decode is the
// client's problem (400); an encoder failure would be ours (500).
func TestPrepareFailures(t *testing.T) {
	photo := sidewaysPhoto(t, 160, 80) // orientation 6: Prepare must decode it
	scan := bytes.LastIndex(photo, []byte{0xFF, 0xDA})
	broken := bytes.Clone(photo)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := scan + 20; i < len(broken)-2; i++ {
		broken[i] = byte(rng.IntN(0xFF)) // never 0xFF: the container walk still passes
	}
	if _, err := jpeg.Decode(bytes.NewReader(broken)); err == nil {
		t.Fatal("test photo still decodes; it must not")
	}
	st := newStack(t, newTestConfig(), serverKeys{google: true})
	w := serve(st.h, editRequest(t, "/api/edit", filePart("image", "garbled.jpg", broken)))
	if e := decodeError(t, w); w.Code != http.StatusBadRequest || e.Code != "invalid_image" || !strings.Contains(e.Detail, `"garbled.jpg" is not a valid JPEG image`) {
		t.Errorf("garbled pixels: %d %s %q; want 400 invalid_image naming the file", w.Code, e.Code, e.Detail)
	}
	if n := len(st.gemini.Requests()); n != 0 {
		t.Errorf("%d requests reached Gemini; want none", n)
	}

}

// A progressive JPEG with hundreds of scans (each a full pass of Go's
// decoder over the image) is refused from its header with 413
// image_too_complex, before any decode, and nothing reaches the provider.
func TestScanBombRefused(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "imaging", "testdata", "progressive.jpeg"))
	if err != nil {
		t.Fatal(err)
	}
	// Repeat the last scan (its SOS segment and entropy-coded data) 150 times.
	last := bytes.LastIndex(src, []byte{0xFF, 0xDA})
	eoi := len(src) - 2
	bomb := append(bytes.Clone(src[:eoi]), bytes.Repeat(src[last:eoi], 150)...)
	bomb = append(bomb, 0xFF, 0xD9)
	st := newStack(t, newTestConfig(), serverKeys{google: true})
	w := serve(st.h, editRequest(t, "/api/edit", filePart("image", "bomb.jpg", bomb)))
	if e := decodeError(t, w); w.Code != http.StatusRequestEntityTooLarge || e.Code != "image_too_complex" || !strings.Contains(e.Detail, "bomb.jpg") {
		t.Errorf("scan bomb = %d %s %q; want 413 image_too_complex naming the file", w.Code, e.Code, e.Detail)
	}
	if n := len(st.gemini.Requests()); n != 0 {
		t.Errorf("%d requests reached Gemini; want none", n)
	}
}
