package fal

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"frameforge"
	"frameforge/internal/logging/logtest"
	"frameforge/internal/provider/fal/faltest"
)

// logBuffer collects log output from concurrent goroutines.
type logBuffer = logtest.Buffer

// newTestClient returns a client pointed at fake with fast polling (tests of
// the default cadence set it back), and the debug log it writes.
func newTestClient(tb testing.TB, fake *faltest.Server, mutate func(*Config)) (*Client, *logBuffer) {
	tb.Helper()
	cfg := NewDefaultConfig()
	cfg.QueueURL, cfg.RestURL = fake.URL, fake.URL
	cfg.PollInitial, cfg.PollMax = 5*time.Millisecond, 20*time.Millisecond
	if mutate != nil {
		mutate(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		tb.Fatalf("Validate() = %v", err)
	}
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return New(cfg, fake.Client(), log), logs
}

// testPNG returns a w×h PNG; noisy pictures compress badly, so they make
// large inputs.
func testPNG(tb testing.TB, w, h int, seed uint64, noisy bool) frameforge.Image {
	tb.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(seed, seed))
	base := color.RGBA{R: uint8(seed * 40), G: 128, B: uint8(255 - seed*40), A: 255}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := base
			if noisy {
				c = color.RGBA{R: uint8(r.IntN(256)), G: uint8(r.IntN(256)), B: uint8(r.IntN(256)), A: 255}
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		tb.Fatal(err)
	}
	return frameforge.Image{Data: buf.Bytes(), ContentType: "image/png", Filename: "room.png", Width: w, Height: h}
}

// testImages returns n distinct small PNGs.
func testImages(tb testing.TB, n int) []frameforge.Image {
	var imgs []frameforge.Image
	for i := range n {
		imgs = append(imgs, testPNG(tb, 8+i, 6+i, uint64(i+1), false))
	}
	return imgs
}

// editRequest returns a request with the fake's key as a client key.
func editRequest(fake *faltest.Server, model string, images []frameforge.Image) frameforge.EditRequest {
	return frameforge.EditRequest{
		Images: images,
		Prompt: "Stage this room",
		Model:  model,
		Key:    frameforge.NewKey(fake.Key, true),
	}
}

// appOf returns owner/app of an endpoint id, the place of its status URLs.
func appOf(model string) string {
	segs := strings.Split(model, "/")
	return strings.Join(segs[:2], "/")
}
