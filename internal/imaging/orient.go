package imaging

import (
	"encoding/binary"
	"image"
	"math/bits"

	"golang.org/x/image/draw"
)

// orient returns img turned upright from EXIF orientation o: 2 mirrors
// horizontally, 3 rotates 180°, 4 mirrors vertically, 5 transposes, 6 rotates
// 90° clockwise, 7 transverses and 8 rotates 90° counter-clockwise. Pixels are
// moved, never resampled, and the image keeps its type (a JPEG's YCbCr planes
// are turned one by one, so no RGBA copy is made); types without a pixel
// buffer are converted to RGBA first. Orientation 1 returns img itself.
func orient(img image.Image, o int) image.Image {
	if o <= 1 || o > 8 {
		return img
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	dw, dh := orientedSize(w, h, o)
	r := image.Rect(0, 0, dw, dh)
	switch m := img.(type) {
	case *image.YCbCr:
		if out, ok := orientYCbCr(m, o); ok {
			return out
		}
	case *image.Gray:
		out := image.NewGray(r)
		orientPix(out.Pix, out.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 1, o)
		return out
	case *image.Paletted:
		out := image.NewPaletted(r, m.Palette)
		orientPix(out.Pix, out.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 1, o)
		return out
	case *image.RGBA:
		out := image.NewRGBA(r)
		orientPix(out.Pix, out.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 4, o)
		return out
	case *image.NRGBA:
		out := image.NewNRGBA(r)
		orientPix(out.Pix, out.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 4, o)
		return out
	case *image.CMYK:
		out := image.NewCMYK(r)
		orientPix(out.Pix, out.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 4, o)
		return out
	case *image.Gray16:
		out := image.NewGray16(r)
		orientPix(out.Pix, out.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 2, o)
		return out
	case *image.RGBA64:
		out := image.NewRGBA64(r)
		orientPix(out.Pix, out.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 8, o)
		return out
	case *image.NRGBA64:
		out := image.NewNRGBA64(r)
		orientPix(out.Pix, out.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 8, o)
		return out
	}
	rgba := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(rgba, rgba.Rect, img, b.Min, draw.Src)
	return orient(rgba, o)
}

// orientYCbCr turns each plane of m. Transposing orientations swap the
// chroma subsampling (4:2:2 becomes 4:4:0). It reports false, leaving the
// work to an RGBA conversion, when planes cannot be turned exactly: ratios
// with no transposed counterpart in package image (4:1:1, 4:1:0), images not
// anchored at the origin, and mirroring a subsampled axis of odd length
// (phone photos have even sides), where the chroma grid would shift by one
// pixel.
func orientYCbCr(m *image.YCbCr, o int) (*image.YCbCr, bool) {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	hs, vs := subsampling(m.SubsampleRatio)
	flipX := o == 2 || o == 3 || o == 7 || o == 8
	flipY := o == 3 || o == 4 || o == 6 || o == 7
	if m.Rect.Min != (image.Point{}) || flipX && w%hs != 0 || flipY && h%vs != 0 {
		return nil, false
	}
	ratio := m.SubsampleRatio
	if o >= 5 {
		switch ratio {
		case image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio420:
		case image.YCbCrSubsampleRatio422:
			ratio = image.YCbCrSubsampleRatio440
		case image.YCbCrSubsampleRatio440:
			ratio = image.YCbCrSubsampleRatio422
		default:
			return nil, false
		}
	}
	dw, dh := orientedSize(w, h, o)
	out := image.NewYCbCr(image.Rect(0, 0, dw, dh), ratio)
	cw, ch := chromaSize(w, h, m.SubsampleRatio)
	inParallel(
		func() { orientPix(out.Y, out.YStride, m.Y, m.YStride, w, h, 1, o) },
		func() {
			orientPix(out.Cb, out.CStride, m.Cb, m.CStride, cw, ch, 1, o)
			orientPix(out.Cr, out.CStride, m.Cr, m.CStride, cw, ch, 1, o)
		})
	return out, true
}

// chromaSize returns the size of the chroma planes of a w×h YCbCr image
// anchored at the origin, as image.NewYCbCr lays them out.
func chromaSize(w, h int, r image.YCbCrSubsampleRatio) (int, int) {
	hs, vs := subsampling(r)
	return ceilDiv(w, hs), ceilDiv(h, vs)
}

// subsampling returns how many luma columns and rows share a chroma sample.
func subsampling(r image.YCbCrSubsampleRatio) (hs, vs int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return 2, 1
	case image.YCbCrSubsampleRatio420:
		return 2, 2
	case image.YCbCrSubsampleRatio440:
		return 1, 2
	case image.YCbCrSubsampleRatio411:
		return 4, 1
	case image.YCbCrSubsampleRatio410:
		return 4, 2
	}
	return 1, 1
}

// orientPix writes the w×h pixels of src (bpp bytes each, rows srcStride
// apart) into dst, which has the oriented size, applying EXIF orientation o.
//
// Stored pixel (x, y) lands on upright pixel (dx, dy):
//
//	1 (x, y)          5 (y, x)
//	2 (w-1-x, y)      6 (h-1-y, x)
//	3 (w-1-x, h-1-y)  7 (h-1-y, w-1-x)
//	4 (x, h-1-y)      8 (y, w-1-x)
//
// so its offset in dst is base + x*stepX + y*stepY.
func orientPix(dst []byte, dstStride int, src []byte, srcStride, w, h, bpp, o int) {
	if w <= 0 || h <= 0 {
		return
	}
	dw, dh := orientedSize(w, h, o)
	lastCol, lastRow := (dw-1)*bpp, (dh-1)*dstStride
	var base, stepX, stepY int
	switch o {
	case 1:
		base, stepX, stepY = 0, bpp, dstStride
	case 2:
		base, stepX, stepY = lastCol, -bpp, dstStride
	case 3:
		base, stepX, stepY = lastRow+lastCol, -bpp, -dstStride
	case 4:
		base, stepX, stepY = lastRow, bpp, -dstStride
	case 5:
		base, stepX, stepY = 0, dstStride, bpp
	case 6:
		base, stepX, stepY = lastCol, dstStride, -bpp
	case 7:
		base, stepX, stepY = lastRow+lastCol, -dstStride, -bpp
	case 8:
		base, stepX, stepY = lastRow, -dstStride, bpp
	default:
		return
	}
	rowBytes := w * bpp
	switch {
	case stepX == bpp: // rows stay rows, in order: whole-row copies
		for y := range h {
			copy(dst[base+y*stepY:][:rowBytes], src[y*srcStride:][:rowBytes])
		}
	case o <= 4: // rows stay rows, reversed
		for y := range h {
			movePixels(dst, base+y*stepY, stepX, src, y*srcStride, bpp, w, bpp)
		}
	case bpp == 1: // YCbCr and Gray planes, the hot case
		transposeBytes(dst, base, stepX, stepY, src, srcStride, w, h)
	default:
		// Rows become columns. Take a band of source rows at a time and
		// walk it column by column: each column of the band is a
		// contiguous run in dst, and the band's rows stay in cache.
		band := max(8, 64/bpp)
		for y0 := 0; y0 < h; y0 += band {
			n := min(band, h-y0)
			for x := range w {
				movePixels(dst, base+x*stepX+y0*stepY, stepY, src, y0*srcStride+x*bpp, srcStride, n, bpp)
			}
		}
	}
}

// transposeBytes is orientPix for a transposing orientation of a plane of
// bytes. It moves 8x8 blocks: eight 8-byte loads, a transpose in registers
// and eight 8-byte stores, rather than 64 byte moves. Blocks are taken in
// bands of 64 source rows, column by column, so each output row receives 64
// contiguous bytes while the band's source rows stay in cache. The strips
// beyond the last whole block at the right and bottom go pixel by pixel.
func transposeBytes(dst []byte, base, stepX, stepY int, src []byte, srcStride, w, h int) {
	const band = 64
	w8, h8 := w&^7, h&^7
	var r [8]uint64
	for yb := 0; yb < h8; yb += band {
		for x0 := 0; x0 < w8; x0 += 8 {
			for y0 := yb; y0 < min(yb+band, h8); y0 += 8 {
				s := y0*srcStride + x0
				for i := range r {
					r[i] = binary.LittleEndian.Uint64(src[s+i*srcStride:])
				}
				transpose8(&r)
				// Row j of the block is source column x0+j, its bytes in
				// source-row order; stepY says which way they run in dst.
				d := base + x0*stepX + y0*stepY
				for _, c := range r {
					if stepY > 0 {
						binary.LittleEndian.PutUint64(dst[d:], c)
					} else {
						binary.LittleEndian.PutUint64(dst[d-7:], bits.ReverseBytes64(c))
					}
					d += stepX
				}
			}
		}
	}
	for y := range h { // right strip
		movePixels(dst, base+w8*stepX+y*stepY, stepX, src, y*srcStride+w8, 1, w-w8, 1)
	}
	for y := h8; y < h; y++ { // bottom strip
		movePixels(dst, base+y*stepY, stepX, src, y*srcStride, 1, w8, 1)
	}
}

// transpose8 transposes the 8x8 bytes held in r, row i in r[i], first byte
// least significant: afterwards byte i of r[j] is what byte j of r[i] was. It
// swaps 1-byte, then 2-byte, then 4-byte sub-blocks between row pairs.
func transpose8(r *[8]uint64) {
	for _, s := range [...]struct {
		rows  int
		shift uint
		mask  uint64
	}{{1, 8, 0x00FF00FF00FF00FF}, {2, 16, 0x0000FFFF0000FFFF}, {4, 32, 0x00000000FFFFFFFF}} {
		for i := range 8 {
			if i&s.rows != 0 {
				continue
			}
			a, b := r[i], r[i+s.rows]
			t := (a>>s.shift ^ b) & s.mask
			r[i+s.rows] = b ^ t
			r[i] = a ^ t<<s.shift
		}
	}
}

// movePixels copies n pixels of bpp bytes from src, starting at s and
// stepping by stepS, to dst, starting at d and stepping by stepD.
func movePixels(dst []byte, d, stepD int, src []byte, s, stepS, n, bpp int) {
	switch bpp {
	case 1:
		for range n {
			dst[d] = src[s]
			d += stepD
			s += stepS
		}
	case 4:
		for range n {
			binary.LittleEndian.PutUint32(dst[d:], binary.LittleEndian.Uint32(src[s:]))
			d += stepD
			s += stepS
		}
	default:
		for range n {
			copy(dst[d:d+bpp], src[s:s+bpp])
			d += stepD
			s += stepS
		}
	}
}
