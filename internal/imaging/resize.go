package imaging

import (
	"image"

	"golang.org/x/image/draw"
)

// resize returns src scaled to w×h, or src itself when it has that size.
//
// draw.ApproxBiLinear reads four source pixels per output pixel and needs no
// scratch memory, unlike draw.BiLinear, whose separable pass allocates
// 32 bytes per (output column × source row): 590 MB for 8000x6000 to
// 3072x2304. On its own ApproxBiLinear aliases when it shrinks by more than
// 2x, so a larger reduction first averages k×k blocks (k the integer part of
// the factor), which is cheap, anti-aliases, and leaves ApproxBiLinear a
// factor below 2.
func resize(src image.Image, w, h int) image.Image {
	b := src.Bounds()
	if b.Dx() == w && b.Dy() == h {
		return src
	}
	if k := min(b.Dx()/w, b.Dy()/h, maxShrink); k >= 2 {
		src = shrink(src, k)
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.ApproxBiLinear.Scale(dst, dst.Rect, src, src.Bounds(), draw.Src, nil)
	return dst
}

// maxShrink bounds the block size of shrink so that block sums fit a uint32
// (1024×1024×255 < 2³²).
const maxShrink = 1024

// shrink returns src reduced k times in each direction by averaging k×k
// blocks (partial blocks at the right and bottom edges average what they
// have), keeping its type. It handles the types decoders return for photos;
// other types, and NRGBA with transparency (whose colours must not be
// averaged unweighted), are returned unchanged.
func shrink(src image.Image, k int) image.Image {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	r := image.Rect(0, 0, ceilDiv(w, k), ceilDiv(h, k))
	switch m := src.(type) {
	case *image.YCbCr:
		if m.Rect.Min != (image.Point{}) {
			return src
		}
		out := image.NewYCbCr(r, m.SubsampleRatio)
		shrinkPix(out.Y, out.YStride, m.Y, m.YStride, w, h, 1, k)
		cw, ch := chromaSize(w, h, m.SubsampleRatio)
		shrinkPix(out.Cb, out.CStride, m.Cb, m.CStride, cw, ch, 1, k)
		shrinkPix(out.Cr, out.CStride, m.Cr, m.CStride, cw, ch, 1, k)
		return out
	case *image.Gray:
		out := image.NewGray(r)
		shrinkPix(out.Pix, out.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 1, k)
		return out
	case *image.RGBA: // premultiplied, so a plain average is right
		out := image.NewRGBA(r)
		shrinkPix(out.Pix, out.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 4, k)
		return out
	case *image.NRGBA:
		if !m.Opaque() {
			return src
		}
		out := image.NewNRGBA(r)
		shrinkPix(out.Pix, out.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 4, k)
		return out
	}
	return src
}

// shrinkPix averages k×k blocks of the w×h pixels of src (bpp bytes each)
// into dst, which is ceil(w/k)×ceil(h/k). Sums are kept per output row, so
// src is read once, in order.
func shrinkPix(dst []byte, dstStride int, src []byte, srcStride, w, h, bpp, k int) {
	dw, dh := ceilDiv(w, k), ceilDiv(h, k)
	full := w / k // output pixels made of k whole columns
	sums := make([]uint32, dw*bpp)
	for dy := range dh {
		clear(sums)
		y0, y1 := dy*k, min(dy*k+k, h)
		for y := y0; y < y1; y++ {
			row := src[y*srcStride:][:w*bpp]
			addRow(sums, row, full, bpp, k)
			if full < dw { // a partial block at the right edge
				for i, v := range row[full*k*bpp:] {
					sums[full*bpp+i%bpp] += uint32(v)
				}
			}
		}
		out := dst[dy*dstStride:][:dw*bpp]
		for dx := range dw {
			n := uint32((y1 - y0) * (min(dx*k+k, w) - dx*k))
			for c := range bpp {
				i := dx*bpp + c
				out[i] = uint8((sums[i] + n/2) / n)
			}
		}
	}
}

// addRow adds each run of k pixels of row, channel by channel, to sums, for
// the first full runs.
func addRow(sums []uint32, row []byte, full, bpp, k int) {
	switch {
	case bpp == 1 && k == 2:
		for dx := range full {
			sums[dx] += uint32(row[2*dx]) + uint32(row[2*dx+1])
		}
	case bpp == 1:
		for dx := range full {
			var s uint32
			for _, v := range row[dx*k : dx*k+k] {
				s += uint32(v)
			}
			sums[dx] += s
		}
	default:
		for dx := range full {
			acc := sums[dx*bpp : dx*bpp+bpp]
			for i, v := range row[dx*k*bpp : (dx+1)*k*bpp] {
				acc[i%bpp] += uint32(v)
			}
		}
	}
}

// ceilDiv returns a/b rounded up, for positive a and b.
func ceilDiv(a, b int) int { return (a + b - 1) / b }
