package imaging

import (
	"encoding/binary"
	"fmt"
)

// stripMetadata removes metadata from data at the container level, without
// decoding. It keeps a positive list, what the image needs to render, and
// drops everything else, so metadata under a name we have never heard of goes
// too: for JPEG the frame, tables, scans and restart markers, and of the
// application segments only a plain JFIF APP0, an APP2 ICC_PROFILE and an
// APP14 Adobe; for PNG the critical chunks and the colour, transparency and
// density ones; for WebP the image, alpha and ICCP chunks, with the VP8X EXIF
// and XMP flags cleared. Bytes after the end of the image (motion-photo
// videos, MPF secondary images) go as well.
//
// The ICC profile stays because it is colour, not privacy, unless it is over
// MaxICCProfileBytes; APP14 Adobe stays
// because without it decoders misread the colours of CMYK and RGB JPEGs.
//
// The result is built in one allocation of the exact size, or, with inPlace,
// compacted inside data itself (no allocation; data is overwritten). When
// nothing needs removing, data itself is returned.
func stripMetadata(data []byte, contentType string, inPlace bool) ([]byte, error) {
	switch contentType {
	case TypeJPEG:
		return stripJPEG(data, inPlace)
	case TypePNG:
		return stripPNG(data, inPlace)
	case TypeWebP:
		return stripWebP(data, inPlace)
	}
	return nil, fmt.Errorf("imaging: no container-level stripping for %s", contentType)
}

func stripJPEG(data []byte, inPlace bool) ([]byte, error) {
	drops := make([]span, 0, 8)
	var profile []span // the ICC segments, dropped together when too large
	profileBytes := 0
	end, err := walkJPEG(data, func(s jpegSegment) error {
		body := data[s.body:s.end]
		switch {
		case !keepJPEGSegment(s.marker, body):
			drops = appendSpan(drops, s.start, s.end)
		case s.marker == markerAPP2:
			profile = append(profile, span{s.start, s.end})
			profileBytes += len(body) - len(iccJPEGPrefix) - 2 // sequence number and count
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if profileBytes > MaxICCProfileBytes {
		drops = mergeSpans(drops, profile)
	}
	drops = appendSpan(drops, end, len(data))
	if len(drops) == 0 {
		return data, nil
	}
	return cut(data, drops, inPlace), nil
}

// Sizes of the application segments stripping keeps, as their writers make
// them: anything longer has room for other data and goes.
const (
	jfifSize  = 14 // "JFIF\0", version, units, densities, a 0x0 thumbnail
	adobeSize = 12 // "Adobe", version, two flag words, transform
)

// keepJPEGSegment reports whether a segment survives stripping: the ones a
// decoder needs (frame, Huffman and quantisation tables, restart interval,
// scans, restart markers, EOI) and the application segments that carry
// colour. Everything else goes, including the JPGn extensions (0xF0–0xFD),
// which decoders skip and so may hide anything. A JFIF APP0 is kept only
// without a thumbnail (a thumbnail is a second picture, perhaps of the
// uncropped photo); it tells a decoder nothing Go and libjpeg do not assume
// for three components anyway.
func keepJPEGSegment(marker byte, body []byte) bool {
	switch {
	case isSOF(marker), marker == markerDHT, marker == markerDQT, marker == markerDRI,
		marker == markerSOS, marker == markerEOI, marker >= markerRST0 && marker <= markerRST7:
		return true
	case marker == markerAPP0:
		return len(body) == jfifSize && hasPrefix(body, "JFIF\x00")
	case marker == markerAPP2:
		return hasPrefix(body, iccJPEGPrefix)
	case marker == markerAPP14:
		return len(body) == adobeSize && hasPrefix(body, "Adobe")
	}
	return false
}

func stripPNG(data []byte, inPlace bool) ([]byte, error) {
	drops := make([]span, 0, 8)
	end, err := walkPNG(data, func(c pngChunk) error {
		if !keepPNGChunk(c.name()) || c.is("iCCP") && c.end-c.start > MaxICCProfileBytes {
			drops = appendSpan(drops, c.start, c.end)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	drops = appendSpan(drops, end, len(data))
	if len(drops) == 0 {
		return data, nil
	}
	return cut(data, drops, inPlace), nil
}

// keepPNGChunk reports whether a chunk survives stripping. It is a positive
// list: the critical chunks and the ancillary ones that change how the pixels
// look (colour space, gamma, significant bits, HDR metadata, transparency) or
// their physical size, each of fixed layout with no room for text. So text
// (tEXt, zTXt, iTXt incl. XMP), eXIf, tIME, sPLT (whose name is text),
// signatures, APNG frames (Go shows the default image only) and private
// chunks all go, whatever new names they get. Inspect refuses unknown
// critical chunks, so none reaches this point.
func keepPNGChunk(typ string) bool {
	switch typ {
	case "IHDR", "PLTE", "IDAT", "IEND",
		"iCCP", "sRGB", "gAMA", "cHRM", "cICP", "mDCV", "cLLI", "sBIT", "tRNS", "bKGD", "pHYs":
		return true
	}
	return false
}

func stripWebP(data []byte, inPlace bool) ([]byte, error) {
	drops := make([]span, 0, 4)
	flags := -1 // offset of the VP8X flags byte, if any
	dropICC := false
	riffEnd, err := walkWebP(data, func(c webpChunk) error {
		switch {
		case c.is("VP8X"):
			if c.start == 12 && c.bodyEnd > c.start+8 {
				flags = c.start + 8
			}
		case c.is("ICCP") && c.bodyEnd-c.start-8 > MaxICCProfileBytes:
			drops = appendSpan(drops, c.start, c.end)
			dropICC = true
		case c.is("VP8 "), c.is("VP8L"), c.is("ALPH"), c.is("ICCP"):
		default: // EXIF, XMP and anything unknown (animations are refused by Inspect)
			drops = appendSpan(drops, c.start, c.end)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	drops = appendSpan(drops, riffEnd, len(data))
	stale := byte(vp8xEXIF | vp8xXMP)
	if dropICC {
		stale |= vp8xICC
	}
	staleFlags := flags >= 0 && data[flags]&stale != 0
	if len(drops) == 0 && !staleFlags {
		return data, nil
	}
	out := cut(data, drops, inPlace)
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	if flags >= 0 {
		// VP8X is the first chunk and never dropped, so its offset holds.
		out[flags] &^= stale
	}
	return out, nil
}

// span is the byte range [start, end) of data that stripping leaves out.
type span struct{ start, end int }

// appendSpan adds [start, end) to spans, which are in order, merging it with
// the last one when they touch and ignoring it when empty.
func appendSpan(spans []span, start, end int) []span {
	switch {
	case start >= end:
		return spans
	case len(spans) > 0 && spans[len(spans)-1].end == start:
		spans[len(spans)-1].end = end
		return spans
	}
	return append(spans, span{start, end})
}

// mergeSpans returns the ordered union of two ordered lists of disjoint
// spans, merging those that touch.
func mergeSpans(a, b []span) []span {
	out := make([]span, 0, len(a)+len(b))
	for len(a) > 0 || len(b) > 0 {
		var s span
		if len(b) == 0 || len(a) > 0 && a[0].start < b[0].start {
			s, a = a[0], a[1:]
		} else {
			s, b = b[0], b[1:]
		}
		out = appendSpan(out, s.start, s.end)
	}
	return out
}

// cut returns a new slice holding data without the ordered, disjoint drops,
// allocated once at its final size.
func cut(data []byte, drops []span, inPlace bool) []byte {
	n := len(data)
	for _, d := range drops {
		n -= d.end - d.start
	}
	// In place, every kept range moves towards the start (or stays), and
	// append copies with memmove semantics, so overlapping moves are safe.
	out := data[:0:n]
	if !inPlace {
		out = make([]byte, 0, n)
	}
	prev := 0
	for _, d := range drops {
		out = append(out, data[prev:d.start]...)
		prev = d.end
	}
	return append(out, data[prev:]...)
}

// hasPrefix is bytes.HasPrefix for a constant prefix, without a conversion.
func hasPrefix(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && string(b[:len(prefix)]) == prefix
}
