package imaging

import "encoding/binary"

// VP8X flag bits.
const (
	vp8xAnimation = 1 << 1
	vp8xXMP       = 1 << 2
	vp8xEXIF      = 1 << 3
	vp8xAlpha     = 1 << 4
	vp8xICC       = 1 << 5
)

// webpChunk locates one RIFF chunk: data[start:end] holds the FourCC, the
// size, the payload data[start+8:bodyEnd] and the padding byte, if any.
type webpChunk struct {
	id                  [4]byte
	start, bodyEnd, end int
}

// is reports whether the chunk has FourCC id.
func (c webpChunk) is(id string) bool { return string(c.id[:]) == id }

// name returns the FourCC as a string, for messages.
func (c webpChunk) name() string { return string(c.id[:]) }

// payload returns the chunk data without header and padding.
func (c webpChunk) payload(data []byte) []byte { return data[c.start+8 : c.bodyEnd] }

// walkWebP checks the RIFF header, calls visit for each chunk inside the RIFF
// size and returns the offset where the RIFF data ends. A visit error ends
// the walk and is returned, except errStopWalk, which ends it with a nil
// error.
func walkWebP(data []byte, visit func(webpChunk) error) (int, error) {
	if len(data) < 12 || string(data[:4]) != "RIFF" || string(data[8:12]) != "WEBP" {
		return 0, corruptf("webp: no RIFF WEBP header")
	}
	size := uint64(binary.LittleEndian.Uint32(data[4:]))
	if size < 4+8 {
		return 0, corruptf("webp: RIFF size %d", size)
	}
	if 8+size > uint64(len(data)) {
		return 0, truncatedf("webp: RIFF size %d, but only %d bytes follow", size, len(data)-8)
	}
	riffEnd := 8 + int(size)
	for pos := 12; pos < riffEnd; {
		if riffEnd-pos < 8 {
			return riffEnd, corruptf("webp: chunk header at offset %d cut short", pos)
		}
		c := webpChunk{start: pos}
		copy(c.id[:], data[pos:pos+4])
		n := uint64(binary.LittleEndian.Uint32(data[pos+4:]))
		if n > uint64(riffEnd-pos-8) {
			return riffEnd, corruptf("webp: chunk %q at offset %d runs past the RIFF size", c.name(), pos)
		}
		c.bodyEnd = pos + 8 + int(n)
		c.end = min(c.bodyEnd+int(n&1), riffEnd) // tolerate a missing final pad byte
		if err := visit(c); err != nil {
			return riffEnd, stopOK(err)
		}
		pos = c.end
	}
	return riffEnd, nil
}

// inspectWebP reads the canvas size from VP8X, or the frame size from a
// simple-format VP8 or VP8L chunk, and the orientation from an EXIF chunk of
// the extended format.
func inspectWebP(data []byte, info *Info) error {
	var extended, animated, sawImage, sawExif, alpha bool
	first := true
	_, err := walkWebP(data, func(c webpChunk) error {
		p := c.payload(data)
		isImage := c.is("VP8 ") || c.is("VP8L")
		if first && !isImage && !c.is("VP8X") {
			return corruptf("webp: first chunk is %q, not VP8, VP8L or VP8X", c.name())
		}
		isFirst := first
		first = false
		switch {
		case c.is("VP8X"):
			if !isFirst {
				return corruptf("webp: VP8X chunk at offset %d is not first", c.start)
			}
			if len(p) != 10 {
				return corruptf("webp: VP8X chunk is %d bytes", len(p))
			}
			extended = true
			animated = p[0]&vp8xAnimation != 0
			alpha = p[0]&vp8xAlpha != 0
			info.Width = int(uint32(p[4])|uint32(p[5])<<8|uint32(p[6])<<16) + 1
			info.Height = int(uint32(p[7])|uint32(p[8])<<8|uint32(p[9])<<16) + 1
			if info.Pixels() > 1<<32-1 {
				return corruptf("webp: canvas %dx%d exceeds 2^32-1 pixels", info.Width, info.Height)
			}
		case isImage:
			if sawImage {
				return errStopWalk // the first image is the one decoders show
			}
			sawImage = true
			w, h, err := webpFrameSize(c, p)
			if err != nil {
				return err
			}
			if extended && (w != info.Width || h != info.Height) {
				return corruptf("webp: frame %dx%d on a %dx%d canvas", w, h, info.Width, info.Height)
			}
			info.Width, info.Height = w, h
			info.Lossless, info.BitDepth, info.Components = c.is("VP8L"), 8, 3
			if info.Lossless || alpha {
				info.Components = 4
			}
			if !extended {
				return errStopWalk // the simple format has nothing else we read
			}
		case c.is("ANIM"), c.is("ANMF"):
			animated = true
		case c.is("EXIF") && extended && !sawExif:
			sawExif = true
			info.Orientation = exifOrientation(p)
		}
		return nil
	})
	switch {
	case err != nil:
		return err
	case animated:
		return unsupportedf("image/webp (animated)")
	case !sawImage:
		return corruptf("webp: no image data")
	}
	return nil
}

// webpFrameSize reads the frame size from the payload of a VP8 (lossy) or
// VP8L (lossless) chunk.
func webpFrameSize(c webpChunk, p []byte) (w, h int, err error) {
	if c.is("VP8L") {
		if len(p) < 5 || p[0] != 0x2F {
			return 0, 0, corruptf("webp: VP8L chunk at offset %d has no signature", c.start)
		}
		bits := binary.LittleEndian.Uint32(p[1:])
		if bits>>29 != 0 {
			return 0, 0, corruptf("webp: VP8L version %d", bits>>29)
		}
		return int(bits&0x3FFF) + 1, int(bits>>14&0x3FFF) + 1, nil
	}
	// VP8: a 3-byte frame tag (bit 0 clear for a key frame), the start code
	// 9D 01 2A, then 14-bit width and height, each with 2 scaling bits.
	if len(p) < 10 {
		return 0, 0, corruptf("webp: VP8 chunk at offset %d is %d bytes", c.start, len(p))
	}
	if p[0]&1 != 0 || p[3] != 0x9D || p[4] != 0x01 || p[5] != 0x2A {
		return 0, 0, corruptf("webp: VP8 chunk at offset %d is not a key frame", c.start)
	}
	w = int(binary.LittleEndian.Uint16(p[6:]) & 0x3FFF)
	h = int(binary.LittleEndian.Uint16(p[8:]) & 0x3FFF)
	if w == 0 || h == 0 {
		return w, h, corruptf("webp: VP8 frame size %dx%d", w, h)
	}
	return w, h, nil
}
