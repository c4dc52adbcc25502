package imaging

import "encoding/binary"

const (
	tagOrientation = 0x0112
	tiffTypeShort  = 3
)

// exifOrientation returns the Orientation tag of IFD0 in an EXIF block, or 1
// when the tag is absent or anything about the block is invalid: a broken
// EXIF block must not make a valid image unusable. The block is TIFF
// structured and may start with the "Exif\0\0" header that JPEG APP1 always
// has and PNG eXIf and WebP EXIF chunks sometimes have.
func exifOrientation(b []byte) int {
	if len(b) >= 6 && string(b[:5]) == "Exif\x00" {
		b = b[6:]
	}
	if len(b) < 8 {
		return 1
	}
	var order binary.ByteOrder
	switch string(b[:4]) {
	case "II*\x00":
		order = binary.LittleEndian
	case "MM\x00*":
		order = binary.BigEndian
	default:
		return 1
	}
	ifd := uint64(order.Uint32(b[4:]))
	if ifd < 8 || ifd+2 > uint64(len(b)) {
		return 1
	}
	n := int(order.Uint16(b[ifd:]))
	entries := b[ifd+2:]
	for i := 0; i < n && 12*i+12 <= len(entries); i++ {
		e := entries[12*i : 12*i+12]
		if order.Uint16(e) != tagOrientation {
			continue
		}
		if order.Uint16(e[2:]) != tiffTypeShort || order.Uint32(e[4:]) != 1 {
			return 1
		}
		if v := int(order.Uint16(e[8:])); v >= 1 && v <= 8 {
			return v
		}
		return 1
	}
	return 1
}
