package imaging

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"runtime"

	"golang.org/x/image/draw"
)

// iccJPEGPrefix starts the payload of an APP2 segment holding (part of) an
// ICC profile.
const iccJPEGPrefix = "ICC_PROFILE\x00"

// MaxICCProfileBytes is the largest ICC profile Prepare passes on; a larger
// one is dropped, and whoever decodes the result assumes sRGB. Real display
// and camera profiles are 0.5 to 60 KB (sRGB, Display P3, Adobe RGB); only
// print profiles with large lookup tables reach a megabyte. A profile does
// not shrink with the pixels, so without a bound a file made mostly of
// profile could never be brought under a request's byte budget: with it,
// Prepare's output is at most the encoded pixels plus this plus a few KB of
// headers and tables once it re-encodes. See docs/imaging.md.
const MaxICCProfileBytes = 1 << 20

// pngHeaderSize is the signature plus the IHDR chunk: where the PNG encoder's
// output can take an iCCP chunk.
const pngHeaderSize = len(pngSignature) + 12 + 13

// encodeJPEG writes img to w as a JPEG of the given quality (0 for the
// default), encoded in stripes on every core, with the APP2 ICC_PROFILE
// segments in profile, if any, placed right after SOI.
func encodeJPEG(ctx context.Context, w io.Writer, img image.Image, quality int, profile []byte) error {
	if quality <= 0 {
		quality = defaultJPEGQuality
	}
	// Encoding is most of a transcode (stripes.go).
	workers := runtime.GOMAXPROCS(0)
	b := img.Bounds()
	return encodeJPEGStriped(ctx, insertAfter(w, 2, profile), img, &jpeg.Options{Quality: min(quality, 100)},
		stripeHeight(b.Dx(), b.Dy(), workers), workers)
}

// encodePNG writes img to w as a PNG compressed for speed, with the iCCP
// chunk in profile, if any, placed right after IHDR. YCbCr images (from WebP)
// are converted first because the PNG encoder reads them pixel by pixel
// through interfaces. It stops at its next write once ctx is done.
func encodePNG(ctx context.Context, w io.Writer, img image.Image, profile []byte) error {
	switch m := img.(type) {
	case *image.YCbCr:
		rgba := image.NewRGBA(m.Rect)
		draw.Draw(rgba, m.Rect, m, m.Rect.Min, draw.Src)
		img = rgba
	case *image.NYCbCrA:
		img = toNRGBA(m)
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	return enc.Encode(&ctxWriter{ctx: ctx, w: insertAfter(w, pngHeaderSize, profile)}, img)
}

// toNRGBA converts a YCbCr image with alpha (lossy WebP with transparency)
// to NRGBA, which the PNG encoder writes directly.
func toNRGBA(m *image.NYCbCrA) *image.NRGBA {
	b := m.Rect
	out := image.NewNRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := out.Pix[(y-b.Min.Y)*out.Stride:]
		for x := b.Min.X; x < b.Max.X; x++ {
			ci := m.COffset(x, y)
			r, g, bl := color.YCbCrToRGB(m.Y[m.YOffset(x, y)], m.Cb[ci], m.Cr[ci])
			i := (x - b.Min.X) * 4
			row[i], row[i+1], row[i+2], row[i+3] = r, g, bl, m.A[m.AOffset(x, y)]
		}
	}
	return out
}

// isGray reports whether the encoders will write img with one grey channel,
// which decides whether a grey or a colour ICC profile fits it.
func isGray(img image.Image) bool {
	switch img.(type) {
	case *image.Gray, *image.Gray16:
		return true
	}
	return false
}

// sourceProfile returns the ICC profile of the source image data in the form
// the output needs (JPEG APP2 segments for JPEG, a PNG iCCP chunk for
// everything else), or nil when there is none or when it does not fit the
// output's channels (a grey profile on a colour output after scaling, a CMYK
// profile after Go converted CMYK to YCbCr).
func sourceProfile(data []byte, contentType string, outGray bool) []byte {
	switch contentType {
	case TypeJPEG:
		return jpegProfile(data, outGray)
	case TypePNG:
		return pngProfile(data, outGray)
	case TypeWebP:
		if outGray {
			return nil
		}
		return webpProfile(data)
	}
	return nil
}

// jpegProfile returns copies of the APP2 ICC_PROFILE segments before the
// first scan, when the frame's channels match the output's.
func jpegProfile(data []byte, outGray bool) []byte {
	var segs []byte
	components := 0
	_, err := walkJPEG(data, func(s jpegSegment) error {
		body := data[s.body:s.end]
		switch {
		case s.marker == markerSOS:
			return errStopWalk
		case isSOF(s.marker) && len(body) >= 6:
			components = int(body[5])
		case s.marker == markerAPP2 && hasPrefix(body, iccJPEGPrefix):
			segs = append(segs, 0xFF, markerAPP2)
			segs = append(segs, data[s.body-2:s.end]...) // length and payload
		}
		return nil
	})
	if err != nil || components == 4 || (components == 1) != outGray || len(segs) > MaxICCProfileBytes {
		return nil
	}
	return segs
}

// pngProfile returns the iCCP chunk, when the source's channels match the
// output's.
func pngProfile(data []byte, outGray bool) []byte {
	var chunk []byte
	srcGray := false
	_, err := walkPNG(data, func(c pngChunk) error {
		switch {
		case c.is("IHDR"):
			if p := c.payload(data); len(p) == 13 {
				srcGray = p[9] == 0 || p[9] == 4 // grey, grey with alpha
			}
		case c.is("iCCP"):
			chunk = data[c.start:c.end]
			return errStopWalk
		case c.is("IDAT"):
			return errStopWalk // iCCP must come before IDAT
		}
		return nil
	})
	if err != nil || srcGray != outGray || len(chunk) > MaxICCProfileBytes {
		return nil
	}
	return chunk
}

// webpProfile returns the WebP ICCP profile as a PNG iCCP chunk, which holds
// a name and the profile compressed with zlib.
func webpProfile(data []byte) []byte {
	var profile []byte
	_, err := walkWebP(data, func(c webpChunk) error {
		if c.is("ICCP") {
			profile = c.payload(data)
			return errStopWalk
		}
		return nil
	})
	if err != nil || len(profile) == 0 || len(profile) > MaxICCProfileBytes {
		return nil
	}
	var b bytes.Buffer
	b.Grow(len(profile) + 64)
	b.Write([]byte{0, 0, 0, 0})
	b.WriteString("iCCP")
	b.WriteString("ICC Profile\x00\x00") // name, then compression method 0
	zw := zlib.NewWriter(&b)
	if _, err := zw.Write(profile); err != nil {
		return nil
	}
	if err := zw.Close(); err != nil {
		return nil
	}
	chunk := b.Bytes()
	binary.BigEndian.PutUint32(chunk, uint32(len(chunk)-8)) // payload length
	return binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
}

// insertAfter returns a writer that passes everything to w and inserts extra
// once the first at bytes have gone through: how the encoders' output gets a
// colour profile without a second copy of the image.
func insertAfter(w io.Writer, at int, extra []byte) io.Writer {
	if len(extra) == 0 {
		return w
	}
	return &insertWriter{w: w, at: at, extra: extra}
}

// insertWriter is the writer insertAfter returns.
type insertWriter struct {
	w     io.Writer
	at    int    // offset where extra goes
	n     int    // bytes written so far, not counting extra
	extra []byte // nil once inserted
}

// Write passes p on, splitting it to insert extra when p crosses offset at.
func (iw *insertWriter) Write(p []byte) (int, error) {
	if iw.extra == nil || iw.n+len(p) < iw.at {
		n, err := iw.w.Write(p)
		iw.n += n
		return n, err
	}
	k := iw.at - iw.n
	if n, err := iw.w.Write(p[:k]); err != nil {
		return n, err
	}
	if _, err := iw.w.Write(iw.extra); err != nil {
		return k, err
	}
	iw.extra = nil
	n, err := iw.w.Write(p[k:])
	iw.n += k + n
	return k + n, err
}

// ctxWriter is a writer that fails once its context is done, which stops an
// encoder that writes as it goes.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
