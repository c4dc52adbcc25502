package imaging

import (
	"fmt"
	"strings"
)

// Inspect validates the container structure of data and reads its dimensions
// and EXIF orientation without decoding pixels. It walks JPEG segments (hopping
// over entropy-coded data with bytes.IndexByte), PNG chunks (checking CRCs),
// GIF blocks, WebP RIFF chunks and the boxes of HEIC/AVIF containers, so it costs microseconds to a few
// milliseconds even for a 15 MB photo, and allocates nothing.
//
// Data after the end of the image (after a JPEG EOI, a PNG IEND, a GIF trailer
// or the RIFF size of a WebP) is allowed: phones append motion-photo videos
// there. Prepare removes it.
//
// Errors wrap ErrEmpty, ErrNotImage, ErrUnsupported, ErrTruncated or
// ErrCorrupt. Even with an error, the returned Info holds what was learnt
// before it (ContentType as sniffed, and the dimensions once a header was
// read), so a caller should check Info.Pixels against its limit first: a
// 200-byte file that claims 30000x30000 pixels then gets "too large" rather
// than "truncated".
func Inspect(data []byte) (Info, error) {
	if len(data) == 0 {
		return Info{}, ErrEmpty
	}
	info := Info{ContentType: Sniff(data), Orientation: 1}
	var err error
	switch info.ContentType {
	case TypeJPEG:
		err = inspectJPEG(data, &info)
	case TypePNG:
		err = inspectPNG(data, &info)
	case TypeGIF:
		err = inspectGIF(data, &info)
	case TypeWebP:
		err = inspectWebP(data, &info)
	case TypeHEIC, TypeHEIF, TypeAVIF:
		err = inspectHEIF(data, &info)
	default:
		if strings.HasPrefix(info.ContentType, "image/") {
			err = fmt.Errorf("%w: %s", ErrUnsupported, info.ContentType)
		} else {
			err = fmt.Errorf("%w (sniffed %s)", ErrNotImage, info.ContentType)
		}
	}
	return info, err
}

// corruptf returns an error wrapping ErrCorrupt with a formatted detail.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// truncatedf returns an error wrapping ErrTruncated with a formatted detail.
func truncatedf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrTruncated}, args...)...)
}

// unsupportedf returns an error wrapping ErrUnsupported with a formatted detail.
func unsupportedf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnsupported}, args...)...)
}
