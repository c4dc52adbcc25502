// Package imagingtest builds image fixtures for tests in any package: a
// photo-like picture and JPEGs carrying EXIF orientation and GPS, as phones
// write them. It is test support only; nothing in the server imports it.
package imagingtest

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/jpeg"
	"testing"
)

// Photo returns a w×h 4:2:0 image that compresses like a photo: smooth
// gradients plus deterministic noise, so a 12 MP JPEG at quality 90 is a few
// megabytes, as from a phone.
func Photo(tb testing.TB, w, h int) *image.YCbCr {
	tb.Helper()
	m := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	seed := uint32(2463534242)
	next := func() uint32 { // xorshift32
		seed ^= seed << 13
		seed ^= seed >> 17
		seed ^= seed << 5
		return seed
	}
	for y := range h {
		row := m.Y[y*m.YStride:][:w]
		for x := range row {
			row[x] = clampByte(24 + x*160/w + y*64/h + int(next()%40) - 20)
		}
	}
	cw, ch := (w+1)/2, (h+1)/2
	for y := range ch {
		cb, cr := m.Cb[y*m.CStride:][:cw], m.Cr[y*m.CStride:][:cw]
		for x := range cb {
			cb[x] = clampByte(100 + x*60/cw + int(next()%10) - 5)
			cr[x] = clampByte(150 - y*50/ch + int(next()%10) - 5)
		}
	}
	return m
}

func clampByte(v int) uint8 { return uint8(min(max(v, 0), 255)) }

// ByteOrder is a TIFF byte order that can also append.
type ByteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// GPSMake is the camera make written into test EXIF blocks, to look for.
const GPSMake = "FrameForgeTestCam"

// GPSLatitude returns the GPSLatitude value of test EXIF blocks (48° 51'
// 29.56", Paris) as stored: three rationals in the block's byte order. It is
// what a leak of the location would look like in the output.
func GPSLatitude(order ByteOrder) []byte {
	return Rationals(order, 48, 1, 51, 1, 2956, 100)
}

// Rationals returns TIFF RATIONAL values: pairs of numerator, denominator.
func Rationals(order ByteOrder, v ...uint32) []byte {
	var b []byte
	for _, x := range v {
		b = order.AppendUint32(b, x)
	}
	return b
}

// EXIFTIFF returns a TIFF-structured EXIF block in the given byte order: IFD0
// with Make, Orientation (omitted when orientation is 0) and, with gps, a GPS
// IFD holding latitude and longitude.
func EXIFTIFF(order ByteOrder, orientation int, gps bool) []byte {
	type entry struct {
		tag, typ uint16
		count    uint32
		value    []byte // inline when up to 4 bytes, else stored after the IFDs
	}
	short := func(v int) []byte { return order.AppendUint16(nil, uint16(v)) }
	make0 := []byte(GPSMake + "\x00")
	ifd0 := []entry{{0x010F, 2, uint32(len(make0)), make0}}
	if orientation != 0 {
		ifd0 = append(ifd0, entry{0x0112, 3, 1, short(orientation)})
	}
	var gpsIFD []entry
	if gps {
		ifd0 = append(ifd0, entry{0x8825, 4, 1, nil}) // GPS IFD pointer, patched below
		gpsIFD = []entry{
			{0x0001, 2, 2, []byte("N\x00")},
			{0x0002, 5, 3, GPSLatitude(order)},
			{0x0003, 2, 2, []byte("E\x00")},
			{0x0004, 5, 3, Rationals(order, 2, 1, 21, 1, 1740, 100)},
		}
	}
	ifdSize := func(es []entry) int { return 2 + 12*len(es) + 4 }
	ifd0At := 8
	gpsAt := ifd0At + ifdSize(ifd0)
	dataAt := gpsAt
	if gps {
		dataAt += ifdSize(gpsIFD)
	}

	var extra []byte // values too long to be inline
	writeIFD := func(b []byte, es []entry) []byte {
		b = order.AppendUint16(b, uint16(len(es)))
		for _, e := range es {
			b = order.AppendUint16(b, e.tag)
			b = order.AppendUint16(b, e.typ)
			b = order.AppendUint32(b, e.count)
			switch {
			case e.tag == 0x8825:
				b = order.AppendUint32(b, uint32(gpsAt))
			case len(e.value) <= 4:
				b = append(b, e.value...)
				b = append(b, make([]byte, 4-len(e.value))...)
			default:
				b = order.AppendUint32(b, uint32(dataAt+len(extra)))
				extra = append(extra, e.value...)
			}
		}
		return order.AppendUint32(b, 0) // no next IFD
	}
	var b []byte
	if order == ByteOrder(binary.LittleEndian) {
		b = append(b, "II*\x00"...)
	} else {
		b = append(b, "MM\x00*"...)
	}
	b = order.AppendUint32(b, uint32(ifd0At))
	b = writeIFD(b, ifd0)
	if gps {
		b = writeIFD(b, gpsIFD)
	}
	return append(b, extra...)
}

// WithEXIF returns jpegBytes with an APP1 Exif segment (little-endian TIFF)
// right after SOI, holding orientation and, with gps, a GPS IFD.
func WithEXIF(jpegBytes []byte, orientation int, gps bool) []byte {
	return WithEXIFOrder(jpegBytes, binary.LittleEndian, orientation, gps)
}

// WithEXIFOrder is WithEXIF with a choice of TIFF byte order.
func WithEXIFOrder(jpegBytes []byte, order ByteOrder, orientation int, gps bool) []byte {
	return WithSegment(jpegBytes, 0xE1, append([]byte("Exif\x00\x00"), EXIFTIFF(order, orientation, gps)...))
}

// WithSegment returns jpegBytes with a marker segment inserted right after
// SOI.
func WithSegment(jpegBytes []byte, marker byte, payload []byte) []byte {
	out := make([]byte, 0, len(jpegBytes)+4+len(payload))
	out = append(out, jpegBytes[:2]...)
	out = append(out, 0xFF, marker)
	out = binary.BigEndian.AppendUint16(out, uint16(len(payload)+2))
	out = append(out, payload...)
	return append(out, jpegBytes[2:]...)
}

// JPEG encodes img at the given quality.
func JPEG(tb testing.TB, img image.Image, quality int) []byte {
	tb.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: quality}); err != nil {
		tb.Fatalf("jpeg.Encode: %v", err)
	}
	return b.Bytes()
}
