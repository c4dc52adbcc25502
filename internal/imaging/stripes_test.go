package imaging

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"reflect"
	"testing"
)

// restarts counts the RSTn markers in a JPEG's scan data (the encoder
// stuffs every 0xFF data byte with 0x00, so 0xFF 0xDn is always a marker).
func restarts(data []byte) int {
	n := 0
	for i := 0; i+1 < len(data); i++ {
		if data[i] == 0xFF && data[i+1] >= markerRST0 && data[i+1] <= markerRST7 {
			n++
		}
	}
	return n
}

func greyImage(w, h int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			g.SetGray(x, y, color.Gray{uint8(x*7 ^ y*3)})
		}
	}
	return g
}

// A striped encode decodes to exactly the pixels of a one-piece encode:
// every block is coded alike; only the DC predictions restart.
func TestEncodeJPEGStriped(t *testing.T) {
	p := photo(t, 1001, 517)
	cases := []struct {
		name    string
		img     image.Image
		stripeH int
		workers int
		stripes int
	}{
		{"colour 4:2:0, odd size, 2 workers", p, 128, 2, 5},
		{"more stripes than RST markers", p, 16, 3, 33},
		{"sub-image away from the origin", p.SubImage(image.Rect(5, 7, 700, 400)), 64, 2, 7},
		{"colour 4:4:4", photo444(t, 320, 240), 32, 2, 8},
		{"RGBA", quadrants(300, 200), 48, 4, 5},
		{"grey", greyImage(333, 250), 64, 2, 4},
		{"one stripe covers it", p, 1024, 2, 1},
		{"one worker", p, 128, 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := &jpeg.Options{Quality: 85}
			var striped, whole bytes.Buffer
			if err := encodeJPEGStriped(context.Background(), &striped, c.img, o, c.stripeH, c.workers); err != nil {
				t.Fatalf("striped: %v", err)
			}
			if err := jpeg.Encode(&whole, c.img, o); err != nil {
				t.Fatal(err)
			}
			if got := restarts(striped.Bytes()); got != c.stripes-1 {
				t.Errorf("%d restart markers; want %d (one between each of %d stripes)", got, c.stripes-1, c.stripes)
			}
			if _, err := Inspect(striped.Bytes()); err != nil {
				t.Errorf("Inspect of the striped JPEG: %v", err)
			}
			a, b := decodeBytes(t, striped.Bytes()), decodeBytes(t, whole.Bytes())
			if a.Bounds() != b.Bounds() {
				t.Fatalf("bounds %v; want %v", a.Bounds(), b.Bounds())
			}
			if !reflect.DeepEqual(a, b) {
				x, y, _ := samePixels(a, b, 0)
				t.Errorf("decoded pixels differ from a one-piece encode (first at %d,%d)", x, y)
			}
		})
	}
}

func photo444(tb testing.TB, w, h int) *image.YCbCr {
	src := photo(tb, w, h)
	m := image.NewYCbCr(src.Rect, image.YCbCrSubsampleRatio444)
	for y := range h {
		for x := range w {
			c := src.YCbCrAt(x, y)
			m.Y[m.YOffset(x, y)], m.Cb[m.COffset(x, y)], m.Cr[m.COffset(x, y)] = c.Y, c.Cb, c.Cr
		}
	}
	return m
}

func TestStripeHeight(t *testing.T) {
	cases := []struct {
		w, h, workers, want int
	}{
		{3024, 4032, 2, 1008}, // a 12 MP portrait on two cores: four stripes
		{4032, 3024, 4, 384},
		{3024, 4032, 1, 0}, // one core: one piece
		{640, 24, 2, 0},    // too short to cut
		{640, 40, 2, 16},
		{60000, 512, 2, 64},   // wide: capped so a grey stripe stays within the DRI count
		{30000, 4000, 2, 128}, // likewise
	}
	for _, c := range cases {
		if got := stripeHeight(c.w, c.h, c.workers); got != c.want {
			t.Errorf("stripeHeight(%d, %d, %d) = %d; want %d", c.w, c.h, c.workers, got, c.want)
		}
		if sh := stripeHeight(c.w, c.h, c.workers); sh > 0 && ceilDiv(c.w, 8)*(sh/8) > maxRestartInterval {
			t.Errorf("stripeHeight(%d, %d, %d) = %d: too many MCUs per restart interval", c.w, c.h, c.workers, sh)
		}
	}
}
