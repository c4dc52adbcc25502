package imaging

import "encoding/binary"

// GIF block introducers.
const (
	gifExtension = 0x21
	gifImage     = 0x2C
	gifTrailer   = 0x3B
)

// inspectGIF reads the logical screen size and walks the blocks (extensions
// and images, each a chain of sub-blocks) to the trailer.
func inspectGIF(data []byte, info *Info) error {
	const header = 13 // signature, version, logical screen descriptor
	if len(data) < header {
		return truncatedf("gif: %d bytes, shorter than the header", len(data))
	}
	info.Width = int(binary.LittleEndian.Uint16(data[6:]))
	info.Height = int(binary.LittleEndian.Uint16(data[8:]))
	if info.Width == 0 || info.Height == 0 {
		return corruptf("gif: logical screen %dx%d", info.Width, info.Height)
	}
	// The logical screen, not the first frame, is the size: Prepare draws
	// the frame on a canvas of the screen's size.
	info.Components, info.BitDepth, info.Paletted = 1, 8, true
	pos := header + colourTableSize(data[10])
	frames := 0
	for {
		if pos >= len(data) {
			return truncatedf("gif: data ends at offset %d without the trailer", len(data))
		}
		var err error
		switch data[pos] {
		case gifTrailer:
			if frames == 0 {
				return corruptf("gif: no image before the trailer")
			}
			return nil
		case gifExtension:
			pos, err = skipSubBlocks(data, pos+2) // introducer, label
		case gifImage:
			const descriptor = 10 // introducer, position, size, flags
			if len(data)-pos < descriptor {
				return truncatedf("gif: image descriptor at offset %d cut short", pos)
			}
			// Skip the local colour table and the LZW minimum code size.
			pos, err = skipSubBlocks(data, pos+descriptor+colourTableSize(data[pos+9])+1)
			frames++
		default:
			return corruptf("gif: unknown block 0x%02x at offset %d", data[pos], pos)
		}
		if err != nil {
			return err
		}
	}
}

// colourTableSize returns the size in bytes of the colour table announced by
// the flags byte of a screen or image descriptor.
func colourTableSize(flags byte) int {
	if flags&0x80 == 0 {
		return 0
	}
	return 3 << (flags&0x07 + 1)
}

// skipSubBlocks returns the offset after the chain of sub-blocks at pos, which
// ends with an empty block.
func skipSubBlocks(data []byte, pos int) (int, error) {
	for {
		if pos >= len(data) {
			return pos, truncatedf("gif: data ends inside a block")
		}
		n := int(data[pos])
		pos += 1 + n
		if n == 0 {
			return pos, nil
		}
	}
}
