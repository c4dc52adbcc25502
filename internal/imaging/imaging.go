// Package imaging is the one place in FrameForge that understands image
// bytes. The server uses it to check uploads before anything leaves the
// process (Sniff, Inspect) and to make images fit to send to an AI provider
// (Prepare): upright, without metadata, and no larger than asked.
//
// Supported inputs are JPEG, PNG, GIF, WebP, and HEIC/HEIF and AVIF (the
// primary image of the container, decoded by libheif and libavif compiled to
// WebAssembly and run in-process by wazero: no cgo). Prepare always turns
// HEIC, HEIF and AVIF into JPEG, the one format every provider takes.
//
// Errors name what is wrong with the input through sentinels, matched with
// errors.Is: ErrEmpty and ErrNotImage (not an image at all), ErrUnsupported
// (an image we do not take), ErrTooComplex (an image that would cost far more
// to decode than its size suggests; it is also an ErrUnsupported),
// ErrTruncated and ErrCorrupt (a broken file). Any other error from Prepare is
// the context's, or our own failure. See docs/imaging.md.
//
// Every function is safe for concurrent use; the package keeps no state.
package imaging

import (
	"errors"
	"fmt"
)

// Content types Sniff recognises. Inspect accepts the first four; Prepare
// writes JPEG, PNG or WebP.
const (
	TypeJPEG = "image/jpeg"
	TypePNG  = "image/png"
	TypeGIF  = "image/gif"
	TypeWebP = "image/webp"
	TypeHEIC = "image/heic"
	TypeHEIF = "image/heif"
	TypeAVIF = "image/avif"
)

// Sentinel errors. Inspect and Prepare wrap them with detail (the format, the
// offset, the sniffed type), so match them with errors.Is, not ==.
var (
	// ErrEmpty means the input has zero bytes.
	ErrEmpty = errors.New("imaging: empty file")
	// ErrNotImage means the bytes are not a recognised image at all; the
	// wrapped message names the sniffed type, e.g. "(sniffed text/plain)".
	ErrNotImage = errors.New("imaging: not an image")
	// ErrUnsupported means a recognised image we do not accept: HEIC, HEIF,
	// AVIF, other image/* types, animated WebP, and JPEG codings Go cannot
	// decode (arithmetic, lossless, hierarchical, 12-bit).
	ErrUnsupported = errors.New("imaging: unsupported image type")
	// ErrTooComplex means a valid image whose coding would cost far more to
	// decode than its size suggests: a progressive JPEG with more than
	// MaxJPEGScans scans. It wraps ErrUnsupported, so a caller that only
	// knows ErrUnsupported still answers with a client error; match
	// ErrTooComplex first to say more.
	ErrTooComplex = fmt.Errorf("%w: too complex to decode", ErrUnsupported)
	// ErrTruncated means the container ends early: a JPEG without EOI after
	// its scan data, a PNG without IEND or with a chunk running past the end,
	// a WebP whose RIFF size exceeds the data, a GIF without its trailer.
	ErrTruncated = errors.New("imaging: truncated image")
	// ErrCorrupt means the structure is invalid: bad markers, bad chunk
	// lengths or checksums, zero dimensions, pixel data that fails to decode.
	ErrCorrupt = errors.New("imaging: corrupt image")
)

// Info is what Inspect learns from the container without decoding pixels.
type Info struct {
	// ContentType is the sniffed type. When Inspect returns no error it is
	// one of TypeJPEG, TypePNG, TypeGIF, TypeWebP, TypeHEIC, TypeHEIF or
	// TypeAVIF.
	ContentType string
	// Width and Height are the dimensions as stored, before Orientation is
	// applied (a portrait phone photo with Orientation 6 reports 4000x3000).
	Width, Height int
	// Orientation is the EXIF orientation, 1..8, read from a JPEG APP1 Exif
	// segment, a PNG eXIf chunk or a WebP EXIF chunk. It is 1 when absent or
	// invalid. For HEIC/HEIF and AVIF it is the container's rotation and
	// mirroring (irot, imir) as the equivalent EXIF value, or, when the
	// container has neither, the orientation in the image's Exif item.
	Orientation int

	// How the pixels are coded, as far as the cost of decoding them depends
	// on it (see DecodeBytes).

	// Progressive is true for a progressive JPEG (SOF2) and an interlaced
	// (Adam7) PNG.
	Progressive bool
	// Components is the number of channels as stored: JPEG 1, 3 or 4; PNG 1
	// (grey or palette), 2 (grey and alpha), 3 (RGB) or 4 (RGBA); WebP 3, or
	// 4 with alpha; GIF 1.
	Components int
	// BitDepth is the bits per sample: PNG 1, 2, 4, 8 or 16; HEIC and AVIF
	// 8, 10 or 12 (from the pixi property); 8 otherwise.
	BitDepth int
	// Paletted is true for a PNG of colour type 3 and for GIF.
	Paletted bool
	// Lossless is true for a lossless (VP8L) WebP.
	Lossless bool
	// Sampling holds a JPEG's sampling factors per component as in its frame
	// header, horizontal<<4 | vertical: 0x22, 0x11, 0x11 is 4:2:0.
	Sampling [4]byte

	// rgb is true for a three-component JPEG that Go's decoder converts to
	// RGBA (an Adobe transform of 0, or components named R, G, B).
	rgb bool
	// containerTransform is true for a HEIF or AVIF image whose container
	// says how to turn it (irot, imir): Orientation comes from there.
	containerTransform bool
}

// Pixels returns Width*Height. It is an int64 so that a hostile header
// claiming 65535x65535 cannot overflow on 32-bit platforms; callers compare it
// with their limit before decoding anything.
func (i Info) Pixels() int64 { return int64(i.Width) * int64(i.Height) }

// Options control Prepare. The zero value applies no size limit and the
// default JPEG quality.
type Options struct {
	// MaxSide bounds the longest side after preparation; 0 means no limit.
	MaxSide int
	// MaxPixels bounds width*height after preparation; 0 means no limit.
	MaxPixels int64
	// JPEGQuality is used when a JPEG is re-encoded, 1..100; 0 means 90.
	JPEGQuality int
	// InPlace lets the fast path compact the caller's data instead of
	// allocating a stripped copy: the caller gives data up (its bytes are
	// overwritten) and must use only Prepared.Data afterwards.
	InPlace bool
	// JPEG makes Prepare write a JPEG whatever the input (a thumbnail for a
	// browser); otherwise only JPEG, HEIC, HEIF and AVIF inputs give JPEG.
	JPEG bool
}

// Prepared is an image ready to leave the server: its bytes, their content
// type and the upright dimensions.
type Prepared struct {
	Data          []byte
	ContentType   string
	Width, Height int
}
