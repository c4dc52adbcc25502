package imaging

import (
	"encoding/binary"
	"hash/crc32"
)

// pngChunk locates one chunk: data[start:end] holds the length, the type, the
// payload data[start+8:end-4] and the CRC.
type pngChunk struct {
	typ        [4]byte
	start, end int
}

// is reports whether the chunk has type t.
func (c pngChunk) is(t string) bool { return string(c.typ[:]) == t }

// name returns the chunk type as a string, for messages.
func (c pngChunk) name() string { return string(c.typ[:]) }

// payload returns the chunk data between the type and the CRC.
func (c pngChunk) payload(data []byte) []byte { return data[c.start+8 : c.end-4] }

// critical reports whether a decoder must understand the chunk (upper-case
// first letter): the PNG specification tells decoders to refuse an image with
// a critical chunk they do not know.
func (c pngChunk) critical() bool { return c.typ[0]&0x20 == 0 }

// walkPNG calls visit for each chunk after the signature, up to and including
// IEND, and returns the offset just past IEND. It checks that lengths fit and
// type codes are letters; CRCs are left to the visitor. A visit error ends the
// walk and is returned, except errStopWalk, which ends it with a nil error.
func walkPNG(data []byte, visit func(pngChunk) error) (int, error) {
	if len(data) < 8 || string(data[:8]) != pngSignature {
		return 0, corruptf("png: no signature")
	}
	pos := 8
	for {
		if len(data)-pos < 12 {
			if pos == len(data) {
				return pos, truncatedf("png: data ends at offset %d without IEND", pos)
			}
			return pos, truncatedf("png: chunk at offset %d cut short", pos)
		}
		n := binary.BigEndian.Uint32(data[pos:])
		if n > 1<<31-1 {
			return pos, corruptf("png: chunk at offset %d has length %d", pos, n)
		}
		c := pngChunk{start: pos}
		copy(c.typ[:], data[pos+4:pos+8])
		for _, b := range c.typ {
			if b|0x20 < 'a' || b|0x20 > 'z' {
				return pos, corruptf("png: chunk at offset %d has type %q", pos, c.name())
			}
		}
		if uint64(n) > uint64(len(data)-pos-12) {
			return pos, truncatedf("png: chunk %s at offset %d runs past the end", c.name(), pos)
		}
		c.end = pos + 12 + int(n)
		if err := visit(c); err != nil {
			return c.end, stopOK(err)
		}
		pos = c.end
		if c.is("IEND") {
			return pos, nil
		}
	}
}

// inspectPNG walks the chunks of a PNG, checking each CRC, reads IHDR and the
// first eXIf, and checks there is pixel data (and a palette when needed).
func inspectPNG(data []byte, info *Info) error {
	first, sawData, sawExif := true, false, false
	needPalette := false
	_, err := walkPNG(data, func(c pngChunk) error {
		p := c.payload(data)
		if crc32.ChecksumIEEE(data[c.start+4:c.end-4]) != binary.BigEndian.Uint32(data[c.end-4:]) {
			return corruptf("png: chunk %s at offset %d fails its CRC", c.name(), c.start)
		}
		if first != c.is("IHDR") {
			return corruptf("png: chunk %s at offset %d; IHDR must come first, once", c.name(), c.start)
		}
		first = false
		switch {
		case c.is("IHDR"):
			needPalette = len(p) == 13 && p[9] == 3
			return readIHDR(p, info)
		case c.is("PLTE"):
			needPalette = false
		case c.is("IDAT"):
			if needPalette {
				return corruptf("png: paletted image without PLTE before IDAT")
			}
			sawData = true
		case c.is("eXIf") && !sawExif:
			sawExif = true
			info.Orientation = exifOrientation(p)
		case c.is("IEND") && !sawData:
			return corruptf("png: IEND at offset %d without IDAT", c.start)
		case c.critical() && !c.is("PLTE") && !c.is("IDAT") && !c.is("IEND"):
			// Go's decoder skips it, but the PNG specification says a decoder
			// must fail: a provider's would, and dropping it would send a
			// picture other than the one its author made (Apple's CgBI
			// "crushed" PNGs are an example). So the client hears it now.
			return unsupportedf("image/png (unknown critical chunk %q)", c.name())
		}
		return nil
	})
	return err
}

// readIHDR reads the dimensions from an IHDR payload and checks its fields
// the way a decoder would.
func readIHDR(p []byte, info *Info) error {
	if len(p) != 13 {
		return corruptf("png: IHDR is %d bytes", len(p))
	}
	w, h := binary.BigEndian.Uint32(p), binary.BigEndian.Uint32(p[4:])
	if w > 1<<31-1 || h > 1<<31-1 {
		return corruptf("png: size %dx%d", w, h)
	}
	info.Width, info.Height = int(w), int(h)
	if w == 0 || h == 0 {
		return corruptf("png: size %dx%d", w, h)
	}
	depth, colour := p[8], p[9]
	var ok bool
	switch colour {
	case 0: // grey
		ok = depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16
	case 3: // palette
		ok = depth == 1 || depth == 2 || depth == 4 || depth == 8
	case 2, 4, 6: // RGB, grey+alpha, RGBA
		ok = depth == 8 || depth == 16
	}
	if !ok {
		return corruptf("png: colour type %d with bit depth %d", colour, depth)
	}
	if p[10] != 0 || p[11] != 0 || p[12] > 1 {
		return corruptf("png: compression %d, filter %d, interlace %d", p[10], p[11], p[12])
	}
	info.BitDepth, info.Paletted, info.Progressive = int(depth), colour == 3, p[12] == 1
	info.Components = [7]int{0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
	return nil
}
