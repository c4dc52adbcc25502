package imaging

import (
	"encoding/binary"
	"image"
	"testing"
)

// ftyp returns an ISO-BMFF ftyp box with the given major and compatible
// brands, followed by the start of a meta box.
func ftyp(major string, compatible ...string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(16+4*len(compatible)))
	b = append(b, "ftyp"+major+"\x00\x00\x00\x00"...)
	for _, c := range compatible {
		b = append(b, c...)
	}
	return append(b, "\x00\x00\x00\x21meta"...)
}

func TestSniff(t *testing.T) {
	small := image.NewRGBA(image.Rect(0, 0, 4, 4))
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, ""},
		{"jpeg", jpegBytes(t, small, 90), TypeJPEG},
		{"png", pngBytes(t, small), TypePNG},
		{"gif", gifBytes(t, small), TypeGIF},
		{"webp", webpFile(riffChunk("VP8L", vp8lPayload(t, toNRGBAImage(small)))), TypeWebP},
		{"heic major brand", ftyp("heic", "mif1", "heic"), TypeHEIC},
		{"heix major brand", ftyp("heix", "mif1"), TypeHEIC},
		{"hevc sequence", ftyp("hevc", "msf1"), TypeHEIC},
		{"mif1 with heic compatible", ftyp("mif1", "mif1", "heic"), TypeHEIC},
		{"mif1 only is heif", ftyp("mif1", "mif1", "miaf"), TypeHEIF},
		{"msf1 is heif", ftyp("msf1", "iso8"), TypeHEIF},
		{"avif major brand", ftyp("avif", "mif1", "miaf", "MA1B"), TypeAVIF},
		{"avis sequence", ftyp("avis", "msf1"), TypeAVIF},
		{"mif1 with avif compatible", ftyp("mif1", "avif", "mif1", "miaf"), TypeAVIF},
		{"mp4 is not an image", ftyp("isom", "isom", "iso2", "mp41"), "video/mp4"},
		{"text", []byte("hello, this is a room description\n"), "text/plain"},
		{"html", []byte("<!DOCTYPE html><html><body>hi</body></html>"), "text/html"},
		{"pdf", []byte("%PDF-1.7\n..."), "application/pdf"},
		{"binary", []byte{0x00, 0x01, 0x02, 0x03, 0xFE}, "application/octet-stream"},
		{"jpeg prefix only", []byte{0xFF, 0xD8}, "text/plain"}, // http.DetectContentType: no binary-only bytes
		{"bmp", []byte("BM\x00\x00\x00\x00\x00\x00\x00\x00"), "image/bmp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sniff(tt.data); got != tt.want {
				t.Errorf("Sniff(%.16q) = %q; want %q", tt.data, got, tt.want)
			}
		})
	}
}
