package imaging

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/gif"
	"runtime"
	"testing"
)

// allocated returns the bytes f allocates, counted by the runtime. Counting
// every allocation, rather than sampling the heap at its peak, is exact and
// repeatable, and bounds the peak from above.
func allocated(f func()) int64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return int64(after.TotalAlloc - before.TotalAlloc)
}

// decodeCostCases returns one image of each kind whose decode cost differs,
// w×h pixels (w and h multiples of 16).
func decodeCostCases(tb testing.TB, w, h int) []struct {
	name string
	data []byte
} {
	tb.Helper()
	rgba16 := image.NewNRGBA64(image.Rect(0, 0, w, h))
	grey := image.NewGray(image.Rect(0, 0, w, h))
	pal := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.Black, color.White, color.RGBA{255, 0, 0, 255}})
	ph := photo(tb, w, h)
	rgb8 := image.NewRGBA(ph.Rect)
	for y := range h {
		for x := range w {
			v := ph.Y[ph.YOffset(x, y)]
			rgba16.SetNRGBA64(x, y, color.NRGBA64{uint16(v) * 257, uint16(x * 7), uint16(y * 5), 0x8000})
			grey.Pix[grey.PixOffset(x, y)] = v
			pal.Pix[pal.PixOffset(x, y)] = v % 3
			rgb8.Set(x, y, ph.At(x, y))
		}
	}
	var tinyFrame bytes.Buffer // a 1x1 frame; the screen is patched to w×h
	if err := gif.Encode(&tinyFrame, image.NewPaletted(image.Rect(0, 0, 1, 1), color.Palette{color.Black}), nil); err != nil {
		tb.Fatal(err)
	}
	screen := patch(tinyFrame.Bytes(), 6, byte(w), byte(w>>8), byte(h), byte(h>>8))
	return []struct {
		name string
		data []byte
	}{
		{"jpeg baseline 4:2:0", jpegBytes(tb, ph, 90)},
		{"jpeg baseline grey", jpegBytes(tb, grey, 90)},
		{"jpeg baseline 4:4:4", flatJPEG(w, h, []byte{0x11, 0x11, 0x11}, false, 0, -1)},
		{"jpeg baseline RGB", flatJPEG(w, h, []byte{0x11, 0x11, 0x11}, false, 0, 0)},
		{"jpeg baseline CMYK", flatJPEG(w, h, []byte{0x11, 0x11, 0x11, 0x11}, false, 0, 0)},
		{"jpeg progressive grey", flatJPEG(w, h, []byte{0x11}, true, 5, -1)},
		{"jpeg progressive 4:2:0", flatJPEG(w, h, []byte{0x22, 0x11, 0x11}, true, 3, -1)},
		{"jpeg progressive 4:4:4", flatJPEG(w, h, []byte{0x11, 0x11, 0x11}, true, 3, -1)},
		{"jpeg progressive CMYK", flatJPEG(w, h, []byte{0x11, 0x11, 0x11, 0x11}, true, 2, 0)},
		{"jpeg progressive YCCK", flatJPEG(w, h, []byte{0x22, 0x11, 0x11, 0x22}, true, 2, 2)},
		{"png grey 8", pngBytes(tb, grey)},
		{"png paletted", pngBytes(tb, pal)},
		{"png RGB 8", pngBytes(tb, rgb8)},
		{"png RGB 16", pngBytes(tb, ph)}, // Go writes YCbCr as 16-bit RGB
		{"png RGBA 16", pngBytes(tb, rgba16)},
		{"png RGBA 8 interlaced", interlacedPNG(tb, toNRGBAImage(ph))},
		{"png RGBA 16 interlaced", interlacedPNG(tb, rgba16)},
		{"gif full frame", gifBytes(tb, ph)},
		{"gif 1x1 frame on the screen", screen},
		{"webp lossless", webpFile(riffChunk("VP8L", vp8lPayload(tb, toNRGBAImage(quadrants(w, h)))))},
	}
}

// TestDecodeBytes checks that Info.DecodeBytes bounds what Prepare allocates
// on its costliest paths (rotated at full size; rotated and scaled a little)
// without overstating it more than threefold.
func TestDecodeBytes(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes a few megapixels per case")
	}
	if raceEnabled {
		// The race detector turns off the allocator's packing of tiny
		// objects, so encoders that box every pixel allocate several times
		// what they do in the server.
		t.Skip("allocation sizes differ under the race detector")
	}
	const w, h = 1024, 1024
	for _, tc := range decodeCostCases(t, w, h) {
		t.Run(tc.name, func(t *testing.T) {
			info, err := Inspect(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range []int{1, 6} {
				info.Orientation = o
				var measured int64
				for _, opt := range []Options{{}, {MaxSide: w * 9 / 10}} {
					measured = max(measured, allocated(func() {
						if _, err := Prepare(context.Background(), tc.data, info, opt); err != nil {
							t.Fatal(err)
						}
					}))
				}
				est := info.DecodeBytes()
				t.Logf("orientation %d: measured %5.2f B/px, estimate %5.2f B/px (%.2fx)", o,
					float64(measured)/(w*h), float64(est)/(w*h), float64(est)/float64(measured))
				if est < measured || est > 3*measured {
					t.Errorf("orientation %d: DecodeBytes() = %d; measured %d, want it within [1x, 3x]", o, est, measured)
				}
			}
		})
	}
}

// TestDecodeBytesGIFScreen checks that a GIF is costed by its logical screen,
// which Prepare fills, not by its frame: 35 bytes can claim 10000x10000.
func TestDecodeBytesGIFScreen(t *testing.T) {
	var b bytes.Buffer
	if err := gif.Encode(&b, image.NewPaletted(image.Rect(0, 0, 1, 1), color.Palette{color.Black}), nil); err != nil {
		t.Fatal(err)
	}
	data := patch(b.Bytes(), 6, 0x10, 0x27, 0x10, 0x27) // 10000x10000
	info, err := Inspect(data)
	if err != nil {
		t.Fatal(err)
	}
	if info.Pixels() != 1e8 {
		t.Errorf("Inspect() = %dx%d; want the 10000x10000 screen", info.Width, info.Height)
	}
	if got := info.DecodeBytes(); got < 4*1e8 {
		t.Errorf("DecodeBytes() = %d; want at least the 400 MB RGBA canvas", got)
	}
}

// TestDecodeBytesOrdersKinds checks the estimate grows where Go's decoders
// cost more for the same pixels: progressive over baseline, CMYK over
// YCbCr, 4:4:4 over 4:2:0, interlaced over plain, 16 bits over 8.
func TestDecodeBytesOrdersKinds(t *testing.T) {
	info := func(data []byte) Info {
		t.Helper()
		i, err := Inspect(data)
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	const w, h = 64, 64
	cheap := []Info{
		info(flatJPEG(w, h, []byte{0x22, 0x11, 0x11}, false, 0, -1)),
		info(flatJPEG(w, h, []byte{0x22, 0x11, 0x11}, false, 0, -1)),
		info(flatJPEG(w, h, []byte{0x22, 0x11, 0x11}, true, 1, -1)),
		info(interlacedPNG(t, image.NewNRGBA(image.Rect(0, 0, w, h)))),
		info(pngBytes(t, image.NewNRGBA(image.Rect(0, 0, w, h)))),
	}
	dear := []Info{
		info(flatJPEG(w, h, []byte{0x22, 0x11, 0x11}, true, 1, -1)),
		info(flatJPEG(w, h, []byte{0x11, 0x11, 0x11}, false, 0, -1)),
		info(flatJPEG(w, h, []byte{0x22, 0x11, 0x11, 0x22}, true, 1, 2)),
		info(interlacedPNG(t, image.NewNRGBA64(image.Rect(0, 0, w, h)))),
		info(interlacedPNG(t, image.NewNRGBA(image.Rect(0, 0, w, h)))),
	}
	for k := range cheap {
		if c, d := cheap[k].DecodeBytes(), dear[k].DecodeBytes(); c >= d {
			t.Errorf("case %d: DecodeBytes() %+v = %d, not below %+v = %d", k, cheap[k], c, dear[k], d)
		}
	}
}
