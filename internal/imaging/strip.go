package imaging

import (
	"encoding/binary"
	"fmt"
)

// stripMetadata removes metadata from data at the container level, without
// decoding: JPEG APPn segments other than APP0 JFIF, APP2 ICC_PROFILE and
// APP14 Adobe, and COM; PNG ancillary chunks other than the colour,
// transparency and animation ones; WebP chunks other than image, animation
// and ICCP, with the VP8X EXIF and XMP flags cleared. Bytes after the end of
// the image (motion-photo videos, MPF secondary images) go as well.
//
// The ICC profile stays because it is colour, not privacy; APP14 Adobe stays
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
	end, err := walkJPEG(data, func(s jpegSegment) error {
		if !keepJPEGSegment(s.marker, data[s.body:s.end]) {
			drops = appendSpan(drops, s.start, s.end)
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

// keepJPEGSegment reports whether a segment survives stripping: everything
// but COM and APPn, except the APPn segments that carry colour.
func keepJPEGSegment(marker byte, body []byte) bool {
	switch {
	case marker == markerCOM:
		return false
	case marker < markerAPP0 || marker > markerAPP15:
		return true
	case marker == markerAPP0:
		return hasPrefix(body, "JFIF\x00")
	case marker == markerAPP2:
		return hasPrefix(body, iccJPEGPrefix)
	case marker == markerAPP14:
		return hasPrefix(body, "Adobe")
	}
	return false
}

func stripPNG(data []byte, inPlace bool) ([]byte, error) {
	drops := make([]span, 0, 8)
	end, err := walkPNG(data, func(c pngChunk) error {
		if !c.critical() && !keepPNGAncillary(c.name()) {
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

// keepPNGAncillary reports whether an ancillary chunk survives stripping. It
// is an allow list of colour, transparency, density and APNG chunks, so text
// (tEXt, zTXt, iTXt incl. XMP), eXIf, tIME, signatures and private chunks all
// go, whatever new names they get.
func keepPNGAncillary(typ string) bool {
	switch typ {
	case "iCCP", "sRGB", "gAMA", "cHRM", "cICP", "mDCV", "cLLI", "sBIT",
		"tRNS", "bKGD", "pHYs", "hIST", "sPLT", "acTL", "fcTL", "fdAT":
		return true
	}
	return false
}

func stripWebP(data []byte, inPlace bool) ([]byte, error) {
	drops := make([]span, 0, 4)
	flags := -1 // offset of the VP8X flags byte, if any
	riffEnd, err := walkWebP(data, func(c webpChunk) error {
		switch {
		case c.is("VP8X"):
			if c.start == 12 && c.bodyEnd > c.start+8 {
				flags = c.start + 8
			}
		case c.is("VP8 "), c.is("VP8L"), c.is("ALPH"), c.is("ANIM"), c.is("ANMF"), c.is("ICCP"):
		default: // EXIF, XMP and anything unknown
			drops = appendSpan(drops, c.start, c.end)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	drops = appendSpan(drops, riffEnd, len(data))
	staleFlags := flags >= 0 && data[flags]&(vp8xEXIF|vp8xXMP) != 0
	if len(drops) == 0 && !staleFlags {
		return data, nil
	}
	out := cut(data, drops, inPlace)
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	if flags >= 0 {
		// VP8X is the first chunk and never dropped, so its offset holds.
		out[flags] &^= vp8xEXIF | vp8xXMP
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
