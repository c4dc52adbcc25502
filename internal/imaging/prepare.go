package imaging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"math"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// defaultJPEGQuality is used when Options.JPEGQuality is 0.
const defaultJPEGQuality = 90

// Prepare returns data ready to leave the server: upright (the EXIF
// orientation applied to the pixels), without metadata (EXIF including GPS,
// XMP, IPTC, comments, PNG text and time chunks, WebP EXIF and XMP, and any
// bytes after the end of the image), and scaled down, keeping the aspect
// ratio, to fit opt.MaxSide and opt.MaxPixels. The ICC colour profile is kept
// because it is colour, not privacy, unless it is over MaxICCProfileBytes.
//
// The bytes Prepare returns shrink with the pixels: once it re-encodes (any
// scaling), the output is the encoded pixels plus at most MaxICCProfileBytes
// of profile and a few KB of headers, so a caller over its byte budget can
// always get under it, if the budget is above that, by asking again with a
// smaller MaxSide.
//
// info must be what Inspect returned without error for data; a zero Info
// makes Prepare call Inspect itself. Prepare trusts info.Pixels to have been
// checked: the slow path decodes the whole image.
//
// When the orientation is 1 and no scaling is needed (the fast path), JPEG,
// PNG and WebP keep their encoding: metadata is cut out at the container level
// into one buffer of the final size, and when there is nothing to cut the
// result shares data's backing array. Otherwise the image is decoded,
// scaled, turned upright and encoded again: JPEG as JPEG (opt.JPEGQuality),
// HEIC, HEIF and AVIF as JPEG, everything else as PNG, because Go cannot
// encode WebP and providers do not take GIF. GIF therefore always takes the
// slow path, keeping its first frame, and so do HEIC, HEIF and AVIF (their
// primary image): re-encoding drops every metadata box with the container.
//
// Prepare stops when ctx is done, returning an error that wraps ctx.Err(): a
// request nobody waits for any more should not keep a core busy. It checks
// between stages (before decoding, after it, after scaling and orienting) and
// within them where the code allows: the decoders read data through ctx, so
// they stop at their next read, and the JPEG encoder checks before each
// stripe, the PNG encoder at each write.
//
// Errors wrap ErrUnsupported, ErrTruncated, ErrCorrupt or ctx.Err().
func Prepare(ctx context.Context, data []byte, info Info, opt Options) (Prepared, error) {
	if err := ctxErr(ctx); err != nil {
		return Prepared{}, err
	}
	if info.ContentType == "" {
		var err error
		if info, err = Inspect(data); err != nil {
			return Prepared{}, err
		}
	}
	switch info.ContentType {
	case TypeJPEG, TypePNG, TypeGIF, TypeWebP, TypeHEIC, TypeHEIF, TypeAVIF:
	default:
		return Prepared{}, fmt.Errorf("%w: %s", ErrUnsupported, info.ContentType)
	}
	o := info.Orientation
	if o < 1 || o > 8 {
		o = 1
	}
	w, h := orientedSize(info.Width, info.Height, o)
	tw, th := fitSize(w, h, opt.MaxSide, opt.MaxPixels)
	if o == 1 && tw == w && th == h && info.ContentType != TypeGIF && !isHEIF(info.ContentType) &&
		(!opt.JPEG || info.ContentType == TypeJPEG) {
		out, err := stripMetadata(data, info.ContentType, opt.InPlace)
		if err != nil {
			return Prepared{}, err
		}
		return Prepared{Data: out, ContentType: info.ContentType, Width: w, Height: h}, nil
	}
	return transcode(ctx, data, info, o, opt)
}

// ctxErr returns an error wrapping ctx.Err() once ctx is done, else nil.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("imaging: prepare: %w", err)
	}
	return nil
}

// transcode is the slow path of Prepare: decode, scale, orient, encode.
// Scaling happens before orienting, in the stored orientation, so the
// orientation pass touches only the smaller output.
func transcode(ctx context.Context, data []byte, info Info, o int, opt Options) (Prepared, error) {
	src, err := decode(ctx, data, info)
	if err != nil {
		return Prepared{}, err
	}
	if err := ctxErr(ctx); err != nil {
		return Prepared{}, err
	}
	if heifTurnedByDecoder(info) {
		o = 1 // libheif has turned it already
	}
	b := src.Bounds()
	w, h := orientedSize(b.Dx(), b.Dy(), o)
	tw, th := fitSize(w, h, opt.MaxSide, opt.MaxPixels)
	sw, sh := orientedSize(tw, th, o)
	scaled := resize(src, sw, sh)
	if err := ctxErr(ctx); err != nil {
		return Prepared{}, err
	}
	img := orient(scaled, o)
	if err := ctxErr(ctx); err != nil {
		return Prepared{}, err
	}

	// Size the output buffer from the input's bytes per pixel, so that a
	// typical result needs no regrowth.
	estimate := int64(tw) * int64(th)
	if info.ContentType == TypeJPEG || info.ContentType == TypePNG {
		estimate = int64(len(data)) * estimate / max(1, int64(b.Dx())*int64(b.Dy()))
	}
	buf := bytes.NewBuffer(make([]byte, 0, int(min(estimate, 1<<30))+4096))

	out := Prepared{ContentType: TypePNG, Width: tw, Height: th}
	switch {
	case info.ContentType == TypeJPEG:
		out.ContentType = TypeJPEG
		err = encodeJPEG(ctx, buf, img, opt.JPEGQuality, sourceProfile(data, info.ContentType, isGray(img)))
	case isHEIF(info.ContentType) || opt.JPEG:
		// Providers take JPEG, PNG and WebP; a photo goes as JPEG.
		out.ContentType = TypeJPEG
		err = encodeJPEG(ctx, buf, img, opt.JPEGQuality, heifProfile(data, isGray(img)))
	default:
		err = encodePNG(ctx, buf, img, sourceProfile(data, info.ContentType, isGray(img)))
	}
	if err := ctxErr(ctx); err != nil {
		return Prepared{}, err
	}
	if err != nil {
		return Prepared{}, fmt.Errorf("imaging: encode %s: %w", out.ContentType, err)
	}
	out.Data = buf.Bytes()
	return out, nil
}

// Decode decodes a complete image whose Info came from Inspect, stopping
// when ctx is done: for a caller that needs the pixels themselves (the
// structural check compares an edit's input and result).
func Decode(ctx context.Context, data []byte, info Info) (image.Image, error) {
	return decode(ctx, data, info)
}

// decode decodes data with the decoder for info.ContentType. A GIF gives its
// first frame, placed on the logical screen when it covers only part of it.
// The decoders read through ctx, so they stop at their next read once ctx is
// done.
func decode(ctx context.Context, data []byte, info Info) (image.Image, error) {
	r := &ctxReader{ctx: ctx, r: bytes.NewReader(data)}
	var (
		img image.Image
		err error
	)
	switch info.ContentType {
	case TypeJPEG:
		img, err = jpeg.Decode(r)
	case TypePNG:
		img, err = png.Decode(r)
	case TypeWebP:
		img, err = webp.Decode(r)
	case TypeGIF:
		img, err = gif.Decode(r)
		if err == nil {
			img = onScreen(img, info.Width, info.Height)
		}
	case TypeHEIC, TypeHEIF, TypeAVIF:
		return decodeHEIF(ctx, data, info)
	}
	if err != nil {
		if err := ctxErr(ctx); err != nil {
			return nil, err
		}
		return nil, decodeError(info.ContentType, err)
	}
	return img, nil
}

// ctxReader is a reader that fails once its context is done. The decoders
// read in buffers of a few KB, so the check costs nothing next to decoding.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// onScreen returns the GIF frame img on a transparent w×h canvas, or img
// itself when it already fills the canvas exactly.
func onScreen(img image.Image, w, h int) image.Image {
	screen := image.Rect(0, 0, w, h)
	if img.Bounds() == screen || w <= 0 || h <= 0 {
		return img
	}
	canvas := image.NewRGBA(screen)
	draw.Draw(canvas, img.Bounds(), img, img.Bounds().Min, draw.Src)
	return canvas
}

// decodeError classifies a decoder error as truncated, unsupported or
// corrupt, keeping the decoder's message.
func decodeError(contentType string, err error) error {
	var (
		jpegUnsupported jpeg.UnsupportedError
		pngUnsupported  png.UnsupportedError
	)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("%w: decode %s: %w", ErrTruncated, contentType, err)
	case errors.As(err, &jpegUnsupported), errors.As(err, &pngUnsupported):
		return fmt.Errorf("%w: decode %s: %w", ErrUnsupported, contentType, err)
	}
	return fmt.Errorf("%w: decode %s: %w", ErrCorrupt, contentType, err)
}

// orientedSize returns the size of a w×h image after applying EXIF
// orientation o: orientations 5 to 8 swap the sides. Being its own inverse, it
// also maps an upright size back to the stored one.
func orientedSize(w, h, o int) (int, int) {
	if o >= 5 {
		return h, w
	}
	return w, h
}

// fitSize returns the largest size with the aspect ratio of w×h, no larger
// than w×h, whose longest side is at most maxSide and whose area is at most
// maxPixels (0 meaning no limit). Sides never drop below 1.
func fitSize(w, h, maxSide int, maxPixels int64) (int, int) {
	if maxSide > 0 && max(w, h) > maxSide {
		long, short := int64(max(w, h)), int64(min(w, h))
		scaled := max(1, int((short*int64(maxSide)+long/2)/long))
		if w >= h {
			w, h = maxSide, scaled
		} else {
			w, h = scaled, maxSide
		}
	}
	if maxPixels > 0 && int64(w)*int64(h) > maxPixels {
		s := math.Sqrt(float64(maxPixels) / (float64(w) * float64(h)))
		nw, nh := max(1, int(float64(w)*s)), max(1, int(float64(h)*s))
		for int64(nw)*int64(nh) > maxPixels && (nw > 1 || nh > 1) { // guard against rounding
			if nw >= nh {
				nw--
			} else {
				nh--
			}
		}
		w, h = nw, nh
	}
	return w, h
}
