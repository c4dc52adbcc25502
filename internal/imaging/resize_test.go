package imaging

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"testing"
)

func TestShrinkPix(t *testing.T) {
	tests := []struct {
		name    string
		src     []byte
		w, h, k int
		bpp     int
		want    []byte
	}{
		{"2x2 blocks", []byte{
			0, 4, 8, 8,
			4, 0, 8, 8,
		}, 4, 2, 2, 1, []byte{2, 8}},
		{"odd sides average partial blocks", []byte{
			10, 20, 30,
			30, 40, 50,
			90, 90, 70,
		}, 3, 3, 2, 1, []byte{25, 40, 90, 70}},
		{"3x3 blocks", []byte{
			1, 2, 3,
			4, 5, 6,
			7, 8, 9,
		}, 3, 3, 3, 1, []byte{5}},
		{"two channels", []byte{
			0, 100, 10, 200,
			20, 100, 30, 200,
		}, 2, 2, 2, 2, []byte{15, 150}},
		{"rounds half up", []byte{1, 2}, 2, 1, 2, 1, []byte{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dw, dh := ceilDiv(tt.w, tt.k), ceilDiv(tt.h, tt.k)
			dst := make([]byte, dw*dh*tt.bpp)
			shrinkPix(plane{dst, dw * tt.bpp, dw, dh, tt.bpp}, plane{tt.src, tt.w * tt.bpp, tt.w, tt.h, tt.bpp}, tt.k)
			if !bytes.Equal(dst, tt.want) {
				t.Errorf("shrinkPix() = %v; want %v", dst, tt.want)
			}
		})
	}
}

func TestScalePix(t *testing.T) {
	tests := []struct {
		name   string
		src    []byte
		sw, sh int
		dw, dh int
		want   []byte
	}{
		{"same size copies", []byte{1, 2, 3, 4, 5, 6}, 3, 2, 3, 2, []byte{1, 2, 3, 4, 5, 6}},
		{"halving averages pairs", []byte{0, 100, 200, 40}, 4, 1, 2, 1, []byte{50, 120}},
		{"two thirds", []byte{0, 30, 60}, 3, 1, 2, 1, []byte{8, 53}},
		{"vertical", []byte{0, 100}, 1, 2, 1, 1, []byte{50}},
		{"edges clamp when enlarging", []byte{10, 20}, 2, 1, 4, 1, []byte{10, 13, 18, 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := make([]byte, tt.dw*tt.dh)
			scalePix(plane{dst, tt.dw, tt.dw, tt.dh, 1}, plane{tt.src, tt.sw, tt.sw, tt.sh, 1})
			if !bytes.Equal(dst, tt.want) {
				t.Errorf("scalePix() = %v; want %v", dst, tt.want)
			}
		})
	}
}

// TestResizeKeepsKind checks which image kinds resize keeps (so the JPEG
// encoder reads YCbCr planes directly) and that a gradient stays a gradient
// through the shrink and bilinear passes.
func TestResizeKeepsKind(t *testing.T) {
	grad := func(w, h int) *image.YCbCr {
		m := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
		for y := range h {
			for x := range w {
				m.Y[y*m.YStride+x] = uint8(x * 255 / (w - 1))
			}
		}
		for i := range m.Cb {
			m.Cb[i], m.Cr[i] = 128, 128
		}
		return m
	}
	transparent := image.NewNRGBA(image.Rect(0, 0, 40, 30))
	tests := []struct {
		src      image.Image
		w, h     int
		wantType string
	}{
		{grad(400, 300), 307, 230, "*image.YCbCr"},
		{grad(400, 300), 130, 97, "*image.YCbCr"}, // shrink by 3, then bilinear
		{grad(401, 301), 100, 75, "*image.YCbCr"},
		{image.NewGray(image.Rect(0, 0, 40, 30)), 20, 15, "*image.Gray"},
		{image.NewRGBA(image.Rect(0, 0, 40, 30)), 20, 15, "*image.RGBA"},
		{transparent, 20, 15, "*image.RGBA"}, // via draw.ApproxBiLinear
		{image.NewPaletted(image.Rect(0, 0, 40, 30), color.Palette{color.Black}), 20, 15, "*image.RGBA"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%T/%dx%d", tt.src, tt.w, tt.h), func(t *testing.T) {
			got := resize(tt.src, tt.w, tt.h)
			if fmt.Sprintf("%T", got) != tt.wantType || got.Bounds() != image.Rect(0, 0, tt.w, tt.h) {
				t.Fatalf("resize() = %T %v; want %s %dx%d", got, got.Bounds(), tt.wantType, tt.w, tt.h)
			}
			m, ok := got.(*image.YCbCr)
			if !ok {
				return
			}
			sw := tt.src.Bounds().Dx()
			for _, x := range []int{0, tt.w / 3, tt.w / 2, tt.w - 1} {
				centre := (float64(x)+0.5)*float64(sw)/float64(tt.w) - 0.5
				want := centre * 255 / float64(sw-1)
				if got := float64(m.Y[m.YStride*(tt.h/2)+x]); got < want-3 || got > want+3 {
					t.Errorf("resize() Y at x=%d = %.0f; want %.1f±3", x, got, want)
				}
			}
		})
	}
}
