package imaging

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"
	"testing"
)

// TestOrientPixTable pins the meaning of each EXIF orientation on a 3x2
// image, written out by hand:
//
//	a b c
//	d e f
func TestOrientPixTable(t *testing.T) {
	tests := []struct {
		o    int
		want []string // rows
	}{
		{1, []string{"abc", "def"}},
		{2, []string{"cba", "fed"}},     // mirror horizontal
		{3, []string{"fed", "cba"}},     // rotate 180
		{4, []string{"def", "abc"}},     // mirror vertical
		{5, []string{"ad", "be", "cf"}}, // transpose
		{6, []string{"da", "eb", "fc"}}, // rotate 90 CW
		{7, []string{"fc", "eb", "da"}}, // transverse
		{8, []string{"cf", "be", "ad"}}, // rotate 90 CCW
	}
	for _, tt := range tests {
		for _, bpp := range []int{1, 2, 4, 8} {
			t.Run(fmt.Sprintf("o%d/bpp%d", tt.o, bpp), func(t *testing.T) {
				src := widen([]byte("abcdef"), bpp)
				dw, dh := len(tt.want[0]), len(tt.want)
				dst := make([]byte, dw*dh*bpp)
				orientPix(dst, dw*bpp, src, 3*bpp, 3, 2, bpp, tt.o)
				want := widen([]byte(joinRows(tt.want)), bpp)
				if !bytes.Equal(dst, want) {
					t.Errorf("orientPix(o=%d) = %q; want %q", tt.o, dst, want)
				}
			})
		}
	}
}

// widen repeats each byte bpp times, making pixels of bpp bytes.
func widen(b []byte, bpp int) []byte {
	var out []byte
	for _, c := range b {
		out = append(out, bytes.Repeat([]byte{c}, bpp)...)
	}
	return out
}

func joinRows(rows []string) string {
	var s string
	for _, r := range rows {
		s += r
	}
	return s
}

// uprightAt returns where stored pixel (x, y) of a w×h image lands under
// orientation o (the table of TestOrientPixTable, as a formula).
func uprightAt(x, y, w, h, o int) (int, int) {
	switch o {
	case 2:
		return w - 1 - x, y
	case 3:
		return w - 1 - x, h - 1 - y
	case 4:
		return x, h - 1 - y
	case 5:
		return y, x
	case 6:
		return h - 1 - y, x
	case 7:
		return h - 1 - y, w - 1 - x
	case 8:
		return y, w - 1 - x
	}
	return x, y
}

// TestOrientImageTypes checks every image type orient handles, pixel by
// pixel, on sizes larger than one band of the transposing loop: even sides,
// the phone case where YCbCr planes are turned directly, and odd sides.
func TestOrientImageTypes(t *testing.T) {
	for _, size := range []image.Point{{70, 36}, {71, 37}} {
		t.Run(fmt.Sprint(size), func(t *testing.T) { testOrientImageTypes(t, size.X, size.Y) })
	}
}

func testOrientImageTypes(t *testing.T, w, h int) {
	r := rand.New(rand.NewPCG(3, 4))
	fill := func(b []byte) {
		for i := range b {
			b[i] = byte(r.Uint32())
		}
	}
	rect := image.Rect(0, 0, w, h)
	var images []image.Image
	for _, ratio := range []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	} {
		m := image.NewYCbCr(rect, ratio)
		fill(m.Y)
		fill(m.Cb)
		fill(m.Cr)
		images = append(images, m)
	}
	gray := image.NewGray(rect)
	fill(gray.Pix)
	rgba := image.NewRGBA(rect)
	fill(rgba.Pix)
	nrgba := image.NewNRGBA(rect)
	fill(nrgba.Pix)
	cmyk := image.NewCMYK(rect)
	fill(cmyk.Pix)
	gray16 := image.NewGray16(rect)
	fill(gray16.Pix)
	rgba64 := image.NewRGBA64(rect)
	fill(rgba64.Pix)
	pal := image.NewPaletted(rect, color.Palette{color.Black, color.White, color.RGBA{255, 0, 0, 255}})
	for i := range pal.Pix {
		pal.Pix[i] = byte(r.IntN(3))
	}
	// A sub-image, not anchored at the origin, and a type without a pixel
	// buffer of its own.
	sub := rgba.SubImage(image.Rect(3, 2, w, h))
	alpha16 := image.NewAlpha16(rect)
	fill(alpha16.Pix)
	images = append(images, gray, rgba, nrgba, cmyk, gray16, rgba64, pal, sub, alpha16)

	for _, src := range images {
		for o := 1; o <= 8; o++ {
			name := fmt.Sprintf("%T", src)
			if m, ok := src.(*image.YCbCr); ok {
				name += m.SubsampleRatio.String()
			}
			t.Run(fmt.Sprintf("%s/o%d", name, o), func(t *testing.T) {
				got := orient(src, o)
				b := src.Bounds()
				sw, sh := b.Dx(), b.Dy()
				dw, dh := orientedSize(sw, sh, o)
				if g := got.Bounds(); g.Dx() != dw || g.Dy() != dh {
					t.Fatalf("orient() size = %v; want %dx%d", g.Size(), dw, dh)
				}
				gb := got.Bounds()
				for y := range sh {
					for x := range sw {
						ux, uy := uprightAt(x, y, sw, sh, o)
						// 8-bit: types without a pixel buffer go through RGBA.
						want := color.RGBAModel.Convert(src.At(b.Min.X+x, b.Min.Y+y))
						have := color.RGBAModel.Convert(got.At(gb.Min.X+ux, gb.Min.Y+uy))
						if want != have {
							t.Fatalf("stored (%d,%d) -> upright (%d,%d) = %v; want %v", x, y, ux, uy, have, want)
						}
					}
				}
			})
		}
	}
}

// TestOrientKeepsYCbCr checks that even-sided YCbCr images, as from phones,
// are turned plane by plane, without an RGBA copy.
func TestOrientKeepsYCbCr(t *testing.T) {
	tests := []struct {
		ratio, want image.YCbCrSubsampleRatio // want: after a transposing orientation
	}{
		{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio420},
		{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio444},
		{image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio440},
		{image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio422},
	}
	for _, tt := range tests {
		for o := 2; o <= 8; o++ {
			want := tt.ratio
			if o >= 5 {
				want = tt.want
			}
			img := orient(image.NewYCbCr(image.Rect(0, 0, 6, 4), tt.ratio), o)
			if got, ok := img.(*image.YCbCr); !ok || got.SubsampleRatio != want {
				t.Errorf("orient(%v, %d) = %T; want *image.YCbCr %v", tt.ratio, o, img, want)
			}
		}
	}
}

// TestTransposeBytes checks the 8x8-block path of orientPix on a plane
// spanning several bands of blocks, with partial blocks at both edges.
func TestTransposeBytes(t *testing.T) {
	const w, h = 150, 141
	r := rand.New(rand.NewPCG(5, 6))
	src := make([]byte, w*h)
	for i := range src {
		src[i] = byte(r.Uint32())
	}
	for o := 5; o <= 8; o++ {
		dst := make([]byte, w*h)
		orientPix(dst, h, src, w, w, h, 1, o) // upright is h wide
		for y := range h {
			for x := range w {
				ux, uy := uprightAt(x, y, w, h, o)
				if got, want := dst[uy*h+ux], src[y*w+x]; got != want {
					t.Fatalf("o=%d: stored (%d,%d) -> upright (%d,%d) = %d; want %d", o, x, y, ux, uy, got, want)
				}
			}
		}
	}
}

func TestTranspose8(t *testing.T) {
	var r [8]uint64
	for i := range r {
		for j := range 8 {
			r[i] |= uint64(i*8+j) << (8 * j)
		}
	}
	transpose8(&r)
	for i := range r {
		for j := range 8 {
			if got, want := byte(r[j]>>(8*i)), byte(i*8+j); got != want {
				t.Errorf("after transpose8, byte %d of row %d = %d; want %d", i, j, got, want)
			}
		}
	}
}
