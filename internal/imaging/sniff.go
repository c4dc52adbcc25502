package imaging

import (
	"encoding/binary"
	"net/http"
	"strings"
)

const (
	pngSignature = "\x89PNG\r\n\x1a\n"
	jpegPrefix   = "\xff\xd8\xff"
)

// Sniff returns the MIME type recognised from the first bytes of data, without
// parameters: one of the Type constants for JPEG, PNG, GIF, WebP, HEIC, HEIF
// and AVIF (the last three from the brands of an ISO-BMFF ftyp box), otherwise
// what http.DetectContentType says, e.g. "text/plain", so the server can tell
// the client what it uploaded instead. Empty input gives "".
//
// Sniff reads at most the first 512 bytes and never decodes.
func Sniff(data []byte) string {
	switch {
	case len(data) == 0:
		return ""
	case len(data) >= 3 && string(data[:3]) == jpegPrefix:
		return TypeJPEG
	case len(data) >= 8 && string(data[:8]) == pngSignature:
		return TypePNG
	case len(data) >= 6 && (string(data[:6]) == "GIF87a" || string(data[:6]) == "GIF89a"):
		return TypeGIF
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return TypeWebP
	}
	if t := sniffFtyp(data); t != "" {
		return t
	}
	t := http.DetectContentType(data)
	if i := strings.IndexByte(t, ';'); i >= 0 {
		t = t[:i]
	}
	return strings.TrimSpace(t)
}

// sniffFtyp classifies an ISO-BMFF file by the brands of its leading ftyp box:
// the major brand decides when it is specific (avif, heic…); otherwise the most
// specific compatible brand does, because AVIF and HEIC files written by some
// tools carry the generic mif1 as major brand. It returns "" for other
// ISO-BMFF files (MP4, MOV), which http.DetectContentType then names.
func sniffFtyp(data []byte) string {
	if len(data) < 16 || string(data[4:8]) != "ftyp" {
		return ""
	}
	end := int(binary.BigEndian.Uint32(data))
	if end < 16 || end > len(data) {
		// Size 0 ("to the end") or 1 (64-bit size), or a box longer than what
		// we were given: look at the brands we have, within reason.
		end = min(len(data), 512)
	}
	major := brandRank(string(data[8:12]))
	if major >= rankHEIC {
		return rankType(major)
	}
	best := major
	for p := 16; p+4 <= end; p += 4 {
		best = max(best, brandRank(string(data[p:p+4])))
	}
	return rankType(best)
}

// Ranks of ftyp brands, least to most specific.
const (
	rankNone = iota
	rankHEIF
	rankHEIC
	rankAVIF
)

// rankType maps a brand rank to its content type.
func rankType(rank int) string {
	switch rank {
	case rankAVIF:
		return TypeAVIF
	case rankHEIC:
		return TypeHEIC
	case rankHEIF:
		return TypeHEIF
	}
	return ""
}

func brandRank(brand string) int {
	switch brand {
	case "avif", "avis":
		return rankAVIF
	case "heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs":
		return rankHEIC
	case "mif1", "msf1":
		return rankHEIF
	}
	return rankNone
}
