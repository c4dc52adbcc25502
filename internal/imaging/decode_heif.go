package imaging

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"unsafe"

	"github.com/gen2brain/avif"
	"github.com/gen2brain/heic"
)

// Go has no HEVC or AV1 decoder. github.com/gen2brain/heic and
// github.com/gen2brain/avif run libheif (with libde265) and libavif (with
// dav1d/aom) compiled to WebAssembly in wazero, a pure Go runtime: no cgo,
// one static binary. libheif and libde265 are LGPL-3.0; docs/imaging.md says
// what that means for our binary.
//
// Both decode the primary image of the file. libheif applies the container's
// transformations (irot, imir, clap) itself; libavif does not, so Prepare
// turns an AVIF by Info.Orientation as it turns a JPEG.
//
// Neither decoder can be interrupted: the WebAssembly call runs to the end
// once started (about 0.4 s for 12 MP here). The pixel limit, checked from
// the ispe box before any decode, and the decode-memory budget bound it.

// decodeHEIF decodes the primary image of an HEIC, HEIF or AVIF file. The
// image it returns is upright already when info.containerTransform is set
// and the file is HEIC/HEIF (libheif turned it).
func decodeHEIF(ctx context.Context, data []byte, info Info) (img image.Image, err error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	defer func() {
		// The bindings panic when the WebAssembly module cannot be set up;
		// that is our failure, not the client's, but it must not crash.
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("imaging: %s decoder: %v", info.ContentType, r)
		}
	}()
	if info.ContentType == TypeAVIF {
		img, err = avif.Decode(bytes.NewReader(data))
	} else {
		img, err = heic.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: decode %s: %w", ErrCorrupt, info.ContentType, err)
	}
	if info.ContentType != TypeAVIF {
		img = fixLibheifStrides(img)
	}
	// The decoders allocate from what the coded stream says, not from ispe:
	// an image larger than its header claimed is refused here, since the
	// pixel limit and the memory budget were checked against the header.
	b := img.Bounds()
	if int64(b.Dx())*int64(b.Dy()) > info.Pixels() || b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, corruptf("%s: decoded %dx%d, header says %dx%d", info.ContentType, b.Dx(), b.Dy(), info.Width, info.Height)
	}
	return img, nil
}

// heifTurnedByDecoder reports whether the decoder already applied the
// container's orientation: libheif does, libavif does not.
func heifTurnedByDecoder(info Info) bool {
	return info.containerTransform && (info.ContentType == TypeHEIC || info.ContentType == TypeHEIF)
}

// isHEIF reports whether contentType is one of the ISO-BMFF still image
// formats Prepare always re-encodes as JPEG.
func isHEIF(contentType string) bool {
	return contentType == TypeHEIC || contentType == TypeHEIF || contentType == TypeAVIF
}

// heifProfile returns the primary image's ICC profile (colr "prof") as JPEG
// APP2 segments: iPhones write Display P3, whose colours would look dull read
// as sRGB. nil when there is none, it is over MaxICCProfileBytes, or the
// output is grey.
func heifProfile(data []byte, outGray bool) []byte {
	m, err := readHEIFMeta(data)
	if err != nil || len(m.icc) == 0 || len(m.icc) > MaxICCProfileBytes || outGray {
		return nil
	}
	return iccJPEGSegments(m.icc)
}

// iccJPEGSegments splits an ICC profile into APP2 ICC_PROFILE segments of at
// most 65,519 bytes of profile each, numbered as the ICC specification says.
func iccJPEGSegments(profile []byte) []byte {
	const chunk = 65535 - 2 - len(iccJPEGPrefix) - 2
	n := (len(profile) + chunk - 1) / chunk
	if n == 0 || n > 255 {
		return nil
	}
	out := make([]byte, 0, len(profile)+n*(4+len(iccJPEGPrefix)+2))
	for i := range n {
		part := profile[i*chunk : min(len(profile), (i+1)*chunk)]
		size := 2 + len(iccJPEGPrefix) + 2 + len(part)
		out = append(out, 0xFF, markerAPP2, byte(size>>8), byte(size))
		out = append(out, iccJPEGPrefix...)
		out = append(out, byte(i+1), byte(n))
		out = append(out, part...)
	}
	return out
}

// fixLibheifStrides repairs images narrower than 128 pixels from
// github.com/gen2brain/heic v0.4.5: its Go side assumes each plane's rows are
// the width rounded up to 16 bytes, but libheif lays out at least 64 samples
// per row (libheif/pixelimage.cc, ImagePlane::alloc), and the WebAssembly
// side copies the planes with libheif's strides. For wider images, every
// phone photo, the two agree and img is returned as it is. Otherwise the
// planes are read again with libheif's strides: the bytes are there, in the
// module's memory right after the slices the binding returned, because
// the copy wrote them. Remove once the binding reports the strides.
func fixLibheifStrides(img image.Image) image.Image {
	stride := func(w, bpp int) int { return (max(64, (w+1)&^1)*bpp + 15) &^ 15 }
	copyPlane := func(src []byte, srcStride, dstStride, rows int) []byte {
		if len(src) == 0 {
			return nil
		}
		all := unsafe.Slice(&src[0], srcStride*rows)
		out := make([]byte, dstStride*rows)
		for r := range rows {
			copy(out[r*dstStride:(r+1)*dstStride], all[r*srcStride:])
		}
		return out
	}
	switch m := img.(type) {
	case *image.YCbCr:
		w, h := m.Rect.Dx(), m.Rect.Dy()
		cw, ch := w, h
		switch m.SubsampleRatio {
		case image.YCbCrSubsampleRatio420:
			cw, ch = (w+1)/2, (h+1)/2
		case image.YCbCrSubsampleRatio422:
			cw = (w + 1) / 2
		}
		ys, cs := stride(w, 1), stride(cw, 1)
		if ys == m.YStride && cs == m.CStride || len(m.Y) == 0 {
			return m
		}
		// The planes were written one after the other from the start of Y.
		all := unsafe.Slice(&m.Y[0], ys*h+2*cs*ch)
		return &image.YCbCr{
			Y:       copyPlane(all[:ys*h], ys, w, h),
			Cb:      copyPlane(all[ys*h:ys*h+cs*ch], cs, cw, ch),
			Cr:      copyPlane(all[ys*h+cs*ch:], cs, cw, ch),
			YStride: w, CStride: cw, SubsampleRatio: m.SubsampleRatio, Rect: m.Rect,
		}
	case *image.Gray:
		w, h := m.Rect.Dx(), m.Rect.Dy()
		if s := stride(w, 1); s != m.Stride {
			return &image.Gray{Pix: copyPlane(m.Pix, s, w, h), Stride: w, Rect: m.Rect}
		}
	case *image.RGBA:
		w, h := m.Rect.Dx(), m.Rect.Dy()
		if s := stride(w, 4); s != m.Stride {
			return &image.RGBA{Pix: copyPlane(m.Pix, s, 4*w, h), Stride: 4 * w, Rect: m.Rect}
		}
	case *image.NRGBA:
		w, h := m.Rect.Dx(), m.Rect.Dy()
		if s := stride(w, 4); s != m.Stride {
			return &image.NRGBA{Pix: copyPlane(m.Pix, s, 4*w, h), Stride: 4 * w, Rect: m.Rect}
		}
	}
	return img
}

// WarmUp compiles the HEIC and AVIF decoders' WebAssembly modules, which
// the first decode would otherwise do (seconds of CPU on a small machine).
// The server calls it in the background at start-up.
func WarmUp() {
	heic.Init()
	avif.InitDecoder()
}
