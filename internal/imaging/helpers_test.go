package imaging

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/bits"
	"testing"

	"frameforge/internal/imaging/imagingtest"
)

// Fixtures are built in code: the standard encoders for JPEG, PNG and GIF, a
// tiny VP8L writer for WebP, and hand-built EXIF blocks.

// quadrants returns a w×h white image whose top-left quadrant is red and
// top-right quadrant is blue: the two markers tell all 8 orientations apart.
func quadrants(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{255, 255, 255, 255}
			switch {
			case y < h/2 && x < w/2:
				c = color.RGBA{255, 0, 0, 255}
			case y < h/2:
				c = color.RGBA{0, 0, 255, 255}
			}
			m.SetRGBA(x, y, c)
		}
	}
	return m
}

func jpegBytes(tb testing.TB, img image.Image, quality int) []byte {
	tb.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: quality}); err != nil {
		tb.Fatalf("jpeg.Encode: %v", err)
	}
	return b.Bytes()
}

func pngBytes(tb testing.TB, img image.Image) []byte {
	tb.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		tb.Fatalf("png.Encode: %v", err)
	}
	return b.Bytes()
}

func gifBytes(tb testing.TB, img image.Image) []byte {
	tb.Helper()
	var b bytes.Buffer
	if err := gif.Encode(&b, img, nil); err != nil {
		tb.Fatalf("gif.Encode: %v", err)
	}
	return b.Bytes()
}

func decodeBytes(tb testing.TB, data []byte) image.Image {
	tb.Helper()
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		tb.Fatalf("image.Decode: %v", err)
	}
	return img
}

// --- JPEG and EXIF (built by imagingtest, shared with other packages' tests) ---

type byteOrder = imagingtest.ByteOrder

const gpsMake = imagingtest.GPSMake

func photo(tb testing.TB, w, h int) *image.YCbCr { return imagingtest.Photo(tb, w, h) }

func gpsLatitude(order byteOrder) []byte { return imagingtest.GPSLatitude(order) }

func exifTIFF(order byteOrder, orientation int, gps bool) []byte {
	return imagingtest.EXIFTIFF(order, orientation, gps)
}

func withExif(jpegBytes []byte, orientation int, gps bool) []byte {
	return imagingtest.WithEXIF(jpegBytes, orientation, gps)
}

func withExifOrder(jpegBytes []byte, order byteOrder, orientation int, gps bool) []byte {
	return imagingtest.WithEXIFOrder(jpegBytes, order, orientation, gps)
}

func withSegment(jpegBytes []byte, marker byte, payload []byte) []byte {
	return imagingtest.WithSegment(jpegBytes, marker, payload)
}

// iccProfile returns a fake ICC profile: a 128-byte header naming the colour
// space, then a recognisable tag area.
func iccProfile(space string) []byte {
	p := make([]byte, 128, 200)
	binary.BigEndian.PutUint32(p, 200)
	copy(p[16:20], space)
	copy(p[36:40], "acsp")
	return append(p, bytes.Repeat([]byte("ICCDATA!"), 9)[:72]...)
}

// iccAPP2 returns the APP2 payload carrying a whole ICC profile in one part.
func iccAPP2(profile []byte) []byte {
	return append([]byte("ICC_PROFILE\x00\x01\x01"), profile...)
}

// scanData returns the bytes from the first SOS segment to EOI inclusive: the
// compressed pixels, which the fast path must not touch.
func scanData(tb testing.TB, data []byte) []byte {
	tb.Helper()
	start, end := -1, -1
	_, err := walkJPEG(data, func(s jpegSegment) error {
		if s.marker == markerSOS && start < 0 {
			start = s.start
		}
		if s.marker == markerEOI {
			end = s.end
		}
		return nil
	})
	if err != nil || start < 0 || end < 0 {
		tb.Fatalf("scanData: no scan (err %v)", err)
	}
	return data[start:end]
}

// --- PNG ---

// pngChunkBytes returns a complete PNG chunk with its CRC.
func pngChunkBytes(typ string, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(payload)))
	b = append(b, typ...)
	b = append(b, payload...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[4:]))
}

// withChunks returns pngBytes with chunks inserted right after IHDR.
func withChunks(pngBytes []byte, chunks ...[]byte) []byte {
	const afterIHDR = 8 + 25
	out := append([]byte(nil), pngBytes[:afterIHDR]...)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return append(out, pngBytes[afterIHDR:]...)
}

// --- WebP ---

// riffChunk returns a RIFF chunk with its padding byte.
func riffChunk(id string, payload []byte) []byte {
	b := append([]byte(id), binary.LittleEndian.AppendUint32(nil, uint32(len(payload)))...)
	b = append(b, payload...)
	if len(payload)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

// webpFile wraps chunks in a RIFF WEBP header.
func webpFile(chunks ...[]byte) []byte {
	b := []byte("RIFF\x00\x00\x00\x00WEBP")
	for _, c := range chunks {
		b = append(b, c...)
	}
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
	return b
}

// vp8xChunk returns a VP8X chunk with the given flags and canvas size.
func vp8xChunk(flags byte, w, h int) []byte {
	p := make([]byte, 10)
	p[0] = flags
	p[4], p[5], p[6] = byte(w-1), byte((w-1)>>8), byte((w-1)>>16)
	p[7], p[8], p[9] = byte(h-1), byte((h-1)>>8), byte((h-1)>>16)
	return riffChunk("VP8X", p)
}

// vp8lPayload encodes img as a lossless VP8L bitstream, the simplest valid
// way: no transforms, no colour cache, and for each channel a "simple" prefix
// code of one or two symbols. So every channel of img may take at most two
// values, which is enough for marker images.
func vp8lPayload(tb testing.TB, img *image.NRGBA) []byte {
	tb.Helper()
	w, h := img.Rect.Dx(), img.Rect.Dy()
	// Distinct values per channel, in VP8L order: green, red, blue, alpha.
	order := [4]int{1, 0, 2, 3}
	var symbols [4][]uint8
	for y := range h {
		for x := range w {
			p := img.Pix[img.PixOffset(x, y):]
			for i, c := range order {
				if !bytes.Contains(symbols[i], p[c:c+1]) {
					symbols[i] = append(symbols[i], p[c])
				}
			}
		}
	}
	var bw bitWriter
	bw.write(0x2F, 8)
	bw.write(uint64(w-1), 14)
	bw.write(uint64(h-1), 14)
	bw.write(1, 1) // alpha is used
	bw.write(0, 3) // version
	bw.write(0, 1) // no transform
	bw.write(0, 1) // no colour cache
	bw.write(0, 1) // no meta prefix codes
	for i, s := range symbols {
		if len(s) > 2 {
			tb.Fatalf("vp8lPayload: channel %d has %d values; at most 2 supported", order[i], len(s))
		}
		bw.write(1, 1) // simple code
		bw.write(uint64(len(s)-1), 1)
		bw.write(1, 1) // first symbol has 8 bits
		bw.write(uint64(s[0]), 8)
		if len(s) == 2 {
			bw.write(uint64(s[1]), 8)
		}
	}
	bw.write(1, 1) // distance code: simple, one symbol, 1-bit symbol 0
	bw.write(0, 1)
	bw.write(0, 1)
	bw.write(0, 1)
	for y := range h {
		for x := range w {
			p := img.Pix[img.PixOffset(x, y):]
			for i, c := range order {
				if len(symbols[i]) == 2 {
					bw.write(uint64(bytes.IndexByte(symbols[i], p[c])), 1)
				}
			}
		}
	}
	return bw.bytes()
}

// bitWriter writes bits least significant first, as VP8L reads them.
type bitWriter struct {
	buf []byte
	acc uint64
	n   uint
}

func (b *bitWriter) write(v uint64, n uint) {
	b.acc |= v << b.n
	b.n += n
	for b.n >= 8 {
		b.buf = append(b.buf, byte(b.acc))
		b.acc >>= 8
		b.n -= 8
	}
}

func (b *bitWriter) bytes() []byte {
	if b.n > 0 {
		return append(b.buf, byte(b.acc))
	}
	return b.buf
}

// toNRGBAImage converts any image to NRGBA for vp8lPayload.
func toNRGBAImage(img image.Image) *image.NRGBA {
	b := img.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			out.Set(x, y, img.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	return out
}

// --- pixels ---

// colourName classifies c as "red", "blue", "white" or "other", with room
// for JPEG's loss.
func colourName(c color.Color) string {
	r, g, b, _ := c.RGBA()
	r, g, b = r>>8, g>>8, b>>8
	switch {
	case r > 200 && g < 80 && b < 80:
		return "red"
	case r < 80 && g < 80 && b > 200:
		return "blue"
	case r > 200 && g > 200 && b > 200:
		return "white"
	}
	return "other"
}

// quadrantColours returns the colour names at the centres of the top-left,
// top-right, bottom-left and bottom-right quadrants of img.
func quadrantColours(img image.Image) [4]string {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	at := func(x, y int) string { return colourName(img.At(b.Min.X+x, b.Min.Y+y)) }
	return [4]string{at(w/4, h/4), at(3*w/4, h/4), at(w/4, 3*h/4), at(3*w/4, 3*h/4)}
}

// samePixels reports the first pixel where a and b differ by more than tol
// in any 8-bit channel, or ok.
func samePixels(a, b image.Image, tol int) (x, y int, ok bool) {
	ab, bb := a.Bounds(), b.Bounds()
	if ab.Size() != bb.Size() {
		return -1, -1, false
	}
	for y := range ab.Dy() {
		for x := range ab.Dx() {
			r1, g1, b1, a1 := a.At(ab.Min.X+x, ab.Min.Y+y).RGBA()
			r2, g2, b2, a2 := b.At(bb.Min.X+x, bb.Min.Y+y).RGBA()
			for _, d := range [...]int{int(r1>>8) - int(r2>>8), int(g1>>8) - int(g2>>8), int(b1>>8) - int(b2>>8), int(a1>>8) - int(a2>>8)} {
				if d > tol || -d > tol {
					return x, y, false
				}
			}
		}
	}
	return 0, 0, true
}

// --- crafted JPEGs ---

// manyScansJPEG returns a valid progressive grey JPEG of w×h made of one DC
// scan and acScans identical AC scans of a few bytes each. Decoding it costs
// a pass over every block per scan, however small the file.
func manyScansJPEG(w, h, acScans int) []byte {
	return flatJPEG(w, h, []byte{0x11}, true, acScans, -1)
}

// flatJPEG returns a valid JPEG of w×h, all coefficients zero (flat grey),
// with one component per sampling factor (horizontal<<4 | vertical) and,
// when adobe >= 0, an APP14 Adobe segment with that transform (0: RGB or
// CMYK, 2: YCCK). Baseline, each block is two bits: DC difference 0 and
// end of block. Progressive, it is one DC scan and then acScans AC scans per
// component, each a few end-of-band runs of up to 32767 blocks, as in the
// tiny scans of a scan bomb.
func flatJPEG(w, h int, sampling []byte, progressive bool, acScans, adobe int) []byte {
	seg := func(b []byte, marker byte, payload ...byte) []byte {
		b = append(b, 0xFF, marker, byte((len(payload)+2)>>8), byte(len(payload)+2))
		return append(b, payload...)
	}
	b := []byte{0xFF, markerSOI}
	if adobe >= 0 {
		b = seg(b, markerAPP14, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, byte(adobe))
	}
	b = seg(b, markerDQT, append([]byte{0}, bytes.Repeat([]byte{1}, 64)...)...) // table 0, all ones
	sof := []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), byte(len(sampling))}
	hmax, vmax := 1, 1
	for i, f := range sampling {
		sof = append(sof, byte(i+1), f, 0)
		hmax, vmax = max(hmax, int(f>>4)), max(vmax, int(f&15))
	}
	sofMarker := byte(markerSOF0)
	if progressive {
		sofMarker = markerSOF2
	}
	b = seg(b, sofMarker, sof...)
	// DC table 0: one 1-bit code "0" for category 0 (difference 0).
	b = seg(b, markerDHT, append([]byte{0x00, 1}, append(make([]byte, 15), 0x00)...)...)
	// AC table 0. Baseline: a 1-bit code for end of block. Progressive: the
	// 15 end-of-band run symbols EOB0..EOB14 (0x00, 0x10 … 0xE0), all 4-bit
	// codes, so EOBr is coded as r.
	ac := []byte{0x10, 1, 0, 0, 0}
	ac = append(ac, make([]byte, 12)...)
	ac = append(ac, 0x00)
	if progressive {
		ac = append([]byte{0x10, 0, 0, 0, 15}, make([]byte, 12)...)
		for r := range 15 {
			ac = append(ac, byte(r<<4))
		}
	}
	b = seg(b, markerDHT, ac...)
	mcus := ceilDiv(w, 8*hmax) * ceilDiv(h, 8*vmax)
	if len(sampling) == 1 {
		mcus = ceilDiv(w, 8) * ceilDiv(h, 8)
	}
	blocksPerMCU := 0
	sos := []byte{byte(len(sampling))}
	for i, f := range sampling {
		blocksPerMCU += int(f>>4) * int(f&15)
		sos = append(sos, byte(i+1), 0x00)
		if len(sampling) == 1 {
			blocksPerMCU = 1
		}
	}
	if !progressive {
		b = seg(b, markerSOS, append(sos, 0, 63, 0)...)
		b = append(b, make([]byte, (2*mcus*blocksPerMCU+7)/8)...)
		return append(b, 0xFF, markerEOI)
	}
	b = seg(b, markerSOS, append(sos, 0, 0, 0)...) // DC first scan
	b = append(b, make([]byte, (mcus*blocksPerMCU+7)/8)...)
	for i, f := range sampling {
		// A non-interleaved scan covers the component's own size in blocks.
		cw, ch := ceilDiv(w*int(f>>4), hmax), ceilDiv(h*int(f&15), vmax)
		var bw bitWriterMSB
		for left := ceilDiv(cw, 8) * ceilDiv(ch, 8); left > 0; {
			r := min(14, bits.Len(uint(left))-1) // EOBr, then n - 2^r in r bits
			n := min(left, 1<<(r+1)-1)
			bw.write(uint64(r), 4)
			bw.write(uint64(n-1<<r), uint(r))
			left -= n
		}
		scan := bw.bytes()
		for range acScans {
			b = seg(b, markerSOS, 1, byte(i+1), 0x00, 1, 63, 0)
			b = append(b, scan...)
		}
	}
	return append(b, 0xFF, markerEOI)
}

// interlacedPNG returns img (8-bit NRGBA or 16-bit NRGBA64) as an Adam7
// interlaced PNG, which Go's encoder does not write.
func interlacedPNG(tb testing.TB, img image.Image) []byte {
	tb.Helper()
	b := img.Bounds()
	depth, bpp := 8, 4
	if _, ok := img.(*image.NRGBA64); ok {
		depth, bpp = 16, 8
	}
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(b.Dx()))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(b.Dy()))
	ihdr = append(ihdr, byte(depth), 6, 0, 0, 1)
	var raw bytes.Buffer
	zw := zlib.NewWriter(&raw)
	passes := [7][4]int{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}
	for _, p := range passes {
		for y := p[1]; y < b.Dy(); y += p[3] {
			if p[0] >= b.Dx() {
				break
			}
			row := []byte{0} // filter: none
			for x := p[0]; x < b.Dx(); x += p[2] {
				c := color.NRGBA64Model.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
				for _, v := range [4]uint16{c.R, c.G, c.B, c.A} {
					if bpp == 8 {
						row = append(row, byte(v>>8), byte(v))
					} else {
						row = append(row, byte(v>>8))
					}
				}
			}
			if _, err := zw.Write(row); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	out := append([]byte(pngSignature), pngChunkBytes("IHDR", ihdr)...)
	out = append(out, pngChunkBytes("IDAT", raw.Bytes())...)
	return append(out, pngChunkBytes("IEND", nil)...)
}

// bitWriterMSB writes bits most significant first, as JPEG entropy coding
// does; bytes pads with ones and stuffs a zero after each 0xFF.
type bitWriterMSB struct {
	buf []byte
	acc uint64
	n   uint
}

func (b *bitWriterMSB) write(v uint64, n uint) {
	b.acc = b.acc<<n | v
	b.n += n
	for b.n >= 8 {
		b.buf = append(b.buf, byte(b.acc>>(b.n-8)))
		b.n -= 8
	}
}

func (b *bitWriterMSB) bytes() []byte {
	buf := b.buf
	if b.n > 0 {
		buf = append(buf, byte(b.acc<<(8-b.n))|byte(0xFF>>b.n))
	}
	var out []byte
	for _, c := range buf {
		out = append(out, c)
		if c == 0xFF {
			out = append(out, 0)
		}
	}
	return out
}
