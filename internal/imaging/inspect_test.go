package imaging

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

func readTestdata(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// jpegSegmentBytes returns one marker segment with its length field.
func jpegSegmentBytes(marker byte, payload []byte) []byte {
	b := []byte{0xFF, marker}
	b = binary.BigEndian.AppendUint16(b, uint16(len(payload)+2))
	return append(b, payload...)
}

// sofPayload returns a frame header for w×h with 3 components.
func sofPayload(w, h int) []byte {
	p := []byte{8}
	p = binary.BigEndian.AppendUint16(p, uint16(h))
	p = binary.BigEndian.AppendUint16(p, uint16(w))
	return append(p, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1)
}

// syntheticProgressive returns a structurally valid progressive JPEG that
// no decoder could decode: two scans with a DHT and a COM between them, and
// scan data exercising byte stuffing, restart markers and fill bytes.
func syntheticProgressive(w, h int) []byte {
	b := []byte{0xFF, markerSOI}
	b = append(b, jpegSegmentBytes(0xDB, make([]byte, 65))...) // DQT
	b = append(b, jpegSegmentBytes(markerSOF2, sofPayload(w, h))...)
	b = append(b, jpegSegmentBytes(markerDHT, make([]byte, 17))...)
	b = append(b, jpegSegmentBytes(0xDD, []byte{0, 4})...) // DRI
	b = append(b, jpegSegmentBytes(markerSOS, []byte{3, 1, 0, 2, 0x11, 3, 0x11, 0, 0, 0})...)
	b = append(b, 0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD0, 0x78, 0xFF, 0xFF, 0xFF, 0xD1, 0x9A)
	b = append(b, jpegSegmentBytes(markerDHT, make([]byte, 17))...)
	b = append(b, jpegSegmentBytes(markerCOM, []byte("between scans"))...)
	b = append(b, jpegSegmentBytes(markerSOS, []byte{1, 1, 0, 1, 63, 0x10})...)
	b = append(b, 0x01, 0x02, 0xFF, 0x00, 0x03)
	return append(b, 0xFF, 0xFF, markerEOI) // a fill byte before EOI
}

// bombJPEG returns a tiny JPEG whose frame header claims w×h, optionally
// followed by a token scan and EOI so that it is structurally complete.
func bombJPEG(w, h int, complete bool) []byte {
	b := []byte{0xFF, markerSOI}
	b = append(b, jpegSegmentBytes(markerSOF0, sofPayload(w, h))...)
	if complete {
		b = append(b, jpegSegmentBytes(markerSOS, []byte{1, 1, 0, 0, 63, 0})...)
		b = append(b, 0x00, 0xFF, markerEOI)
	}
	return b
}

// bombPNG returns a PNG of the signature and an IHDR claiming w×h.
func bombPNG(w, h int) []byte {
	p := binary.BigEndian.AppendUint32(nil, uint32(w))
	p = binary.BigEndian.AppendUint32(p, uint32(h))
	p = append(p, 8, 2, 0, 0, 0)
	return append([]byte(pngSignature), pngChunkBytes("IHDR", p)...)
}

// patch returns a copy of data with the bytes at offset replaced by b.
func patch(data []byte, offset int, b ...byte) []byte {
	out := bytes.Clone(data)
	copy(out[offset:], b)
	return out
}

// replaceFirst returns data with the first occurrence of old replaced.
func replaceFirst(data, old, new []byte) []byte {
	return bytes.Replace(data, old, new, 1)
}

func TestInspect(t *testing.T) {
	small := photo(t, 40, 20)
	jpg := jpegBytes(t, small, 90)
	pngData := pngBytes(t, small)
	gifData := gifBytes(t, small)
	marker := toNRGBAImage(quadrants(24, 16))
	vp8l := vp8lPayload(t, marker)
	webpSimple := webpFile(riffChunk("VP8L", vp8l))
	exifLE := exifTIFF(binary.LittleEndian, 6, true)

	// The JPEG cut in the middle of its scan data.
	scan := scanData(t, jpg)
	scanStart := bytes.Index(jpg, scan)
	jpgCutInScan := jpg[:scanStart+len(scan)/2]

	// A SOF0 turned into SOF9 (arithmetic coding).
	arithmetic := replaceFirst(jpg, []byte{0xFF, markerSOF0}, []byte{0xFF, 0xC9})

	// A PNG whose IHDR CRC is wrong.
	badCRC := bytes.Clone(pngData)
	badCRC[8+8+13] ^= 0xFF

	// A GIF with an unknown block where the first image descriptor was.
	idx := bytes.IndexByte(gifData[13+colourTableSize(gifData[10]):], gifImage)
	badGIF := bytes.Clone(gifData)
	badGIF[13+colourTableSize(gifData[10])+idx] = 0x99

	// A paletted PNG without its PLTE chunk.
	palPNG := pngBytes(t, image.NewPaletted(image.Rect(0, 0, 8, 8), color.Palette{color.Black, color.White}))
	plte := bytes.Index(palPNG, []byte("PLTE")) - 4
	noPLTE := append(bytes.Clone(palPNG[:plte]), palPNG[plte+12+int(binary.BigEndian.Uint32(palPNG[plte:])):]...)

	animated := webpFile(vp8xChunk(vp8xAnimation, 24, 16),
		riffChunk("ANIM", make([]byte, 6)),
		riffChunk("ANMF", append(make([]byte, 16), riffChunk("VP8L", vp8l)...)))

	tests := []struct {
		name    string
		data    []byte
		want    Info
		wantErr error
	}{
		{"jpeg", jpg, sized(TypeJPEG, 40, 20, 1), nil},
		{"jpeg exif II orientation 6", withExif(jpg, 6, true), sized(TypeJPEG, 40, 20, 6), nil},
		{"jpeg exif MM orientation 8", withExifOrder(jpg, binary.BigEndian, 8, false), sized(TypeJPEG, 40, 20, 8), nil},
		{"jpeg exif MM orientation 3 with gps", withExifOrder(jpg, binary.BigEndian, 3, true), sized(TypeJPEG, 40, 20, 3), nil},
		{"jpeg exif without orientation", withExif(jpg, 0, true), sized(TypeJPEG, 40, 20, 1), nil},
		{"jpeg exif orientation 9 is invalid", withExif(jpg, 9, false), sized(TypeJPEG, 40, 20, 1), nil},
		{"jpeg exif broken", withSegment(jpg, markerAPP1, []byte("Exif\x00\x00II*\x00\xff\xff\xff\xff")), sized(TypeJPEG, 40, 20, 1), nil},
		{"jpeg xmp before exif", withSegment(withExif(jpg, 5, false), markerAPP1, []byte("http://ns.adobe.com/xap/1.0/\x00<x/>")), sized(TypeJPEG, 40, 20, 5), nil},
		{"jpeg gray", jpegBytes(t, image.NewGray(image.Rect(0, 0, 9, 7)), 90), sized(TypeJPEG, 9, 7, 1), nil},
		{"jpeg with motion photo appended after EOI", append(bytes.Clone(jpg), ftyp("mp42", "isom")...), sized(TypeJPEG, 40, 20, 1), nil},
		{"jpeg progressive", readTestdata(t, "progressive.jpeg"), sized(TypeJPEG, 150, 103, 1), nil},
		{"jpeg synthetic progressive", syntheticProgressive(64, 48), sized(TypeJPEG, 64, 48, 1), nil},
		{"jpeg cut in scan data", jpgCutInScan, sized(TypeJPEG, 40, 20, 1), ErrTruncated},
		{"jpeg cut before EOI", jpg[:len(jpg)-2], sized(TypeJPEG, 40, 20, 1), ErrTruncated},
		{"jpeg cut in a segment", jpg[:30], sized(TypeJPEG, 0, 0, 1), ErrTruncated},
		{"jpeg bad marker", replaceFirst(jpg, []byte{0xFF, markerDHT}, []byte{0x12, markerDHT}), sized(TypeJPEG, 40, 20, 1), ErrCorrupt},
		{"jpeg segment length 1", patch(jpg, 4, 0x00, 0x01), sized(TypeJPEG, 0, 0, 1), ErrCorrupt},
		{"jpeg width 0", bombJPEG(0, 10, true), sized(TypeJPEG, 0, 10, 1), ErrCorrupt},
		{"jpeg no scan", append(bombJPEG(10, 10, false), 0xFF, markerEOI), sized(TypeJPEG, 10, 10, 1), ErrCorrupt},
		{"jpeg arithmetic coding", arithmetic, sized(TypeJPEG, 40, 20, 1), ErrUnsupported},
		{"jpeg bomb header only", bombJPEG(30000, 30000, false), sized(TypeJPEG, 30000, 30000, 1), ErrTruncated},
		{"jpeg bomb complete", bombJPEG(30000, 30000, true), sized(TypeJPEG, 30000, 30000, 1), nil},

		{"png", pngData, sized(TypePNG, 40, 20, 1), nil},
		{"png eXIf orientation 3", withChunks(pngData, pngChunkBytes("eXIf", exifTIFF(binary.BigEndian, 3, true))), sized(TypePNG, 40, 20, 3), nil},
		{"png appended data", append(bytes.Clone(pngData), "trailing"...), sized(TypePNG, 40, 20, 1), nil},
		{"png cut in IDAT", pngData[:len(pngData)/2], sized(TypePNG, 40, 20, 1), ErrTruncated},
		{"png without IEND", pngData[:len(pngData)-12], sized(TypePNG, 40, 20, 1), ErrTruncated},
		{"png bad CRC", badCRC, sized(TypePNG, 0, 0, 1), ErrCorrupt},
		{"png first chunk not IHDR", append(append([]byte(pngSignature), pngChunkBytes("tEXt", []byte("k\x00v"))...), pngData[8:]...), sized(TypePNG, 0, 0, 1), ErrCorrupt},
		{"png no IDAT", append(bombPNG(10, 10), pngChunkBytes("IEND", nil)...), sized(TypePNG, 10, 10, 1), ErrCorrupt},
		{"png paletted without PLTE", noPLTE, sized(TypePNG, 8, 8, 1), ErrCorrupt},
		{"png bomb header only", bombPNG(30000, 30000), sized(TypePNG, 30000, 30000, 1), ErrTruncated},

		{"gif", gifData, sized(TypeGIF, 40, 20, 1), nil},
		{"gif without trailer", gifData[:len(gifData)-1], sized(TypeGIF, 40, 20, 1), ErrTruncated},
		{"gif cut in image data", gifData[:len(gifData)/2], sized(TypeGIF, 40, 20, 1), ErrTruncated},
		{"gif header only", gifData[:10], sized(TypeGIF, 0, 0, 1), ErrTruncated},
		{"gif unknown block", badGIF, sized(TypeGIF, 40, 20, 1), ErrCorrupt},
		{"gif screen 0x0", patch(gifData, 6, 0, 0, 0, 0), sized(TypeGIF, 0, 0, 1), ErrCorrupt},

		{"webp lossless", webpSimple, sized(TypeWebP, 24, 16, 1), nil},
		{"webp lossy", readTestdata(t, "lossy.webp"), sized(TypeWebP, 150, 100, 1), nil},
		{"webp extended with exif", webpFile(vp8xChunk(vp8xEXIF, 24, 16), riffChunk("VP8L", vp8l), riffChunk("EXIF", exifLE)), sized(TypeWebP, 24, 16, 6), nil},
		{"webp frame does not match canvas", webpFile(vp8xChunk(0, 25, 16), riffChunk("VP8L", vp8l)), sized(TypeWebP, 25, 16, 1), ErrCorrupt},
		{"webp riff size beyond data", webpSimple[:len(webpSimple)-4], sized(TypeWebP, 0, 0, 1), ErrTruncated},
		{"webp no image chunk", webpFile(riffChunk("VP8X", make([]byte, 10))), sized(TypeWebP, 1, 1, 1), ErrCorrupt},
		{"webp animated", animated, sized(TypeWebP, 24, 16, 1), ErrUnsupported},

		{"heic cut off in its meta box", ftyp("heic", "mif1", "heic"), sized(TypeHEIC, 0, 0, 1), ErrTruncated},
		{"avif cut off in its meta box", ftyp("avif", "mif1"), sized(TypeAVIF, 0, 0, 1), ErrTruncated},
		{"heic without a still image (no meta box)", noMeta(ftyp("heic", "mif1", "heic")), sized(TypeHEIC, 0, 0, 1), ErrUnsupported},
		{"bmp", []byte("BM\x00\x00\x00\x00\x00\x00\x00\x00"), sized("image/bmp", 0, 0, 1), ErrUnsupported},
		{"text", []byte("just some text\n"), sized("text/plain", 0, 0, 1), ErrNotImage},
		{"empty", []byte{}, Info{}, ErrEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Inspect(tt.data)
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Errorf("Inspect() error = %v; want %v", err, tt.wantErr)
			}
			if got := sizeOf(got); got != tt.want {
				t.Errorf("Inspect() = %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestInspectNotImageNamesSniffedType(t *testing.T) {
	_, err := Inspect([]byte("room.txt contents\n"))
	if !errors.Is(err, ErrNotImage) || !strings.Contains(err.Error(), "sniffed text/plain") {
		t.Errorf("Inspect(text) error = %v; want ErrNotImage naming text/plain", err)
	}
	_, err = Inspect(noMeta(ftyp("heic", "mif1")))
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "image/heic") {
		t.Errorf("Inspect(heic) error = %v; want ErrUnsupported naming image/heic", err)
	}
}

// noMeta cuts the stub meta box off an ftyp() file: an ISO-BMFF file with
// no still image in it.
func noMeta(b []byte) []byte { return b[:len(b)-8] }

func TestInspectRandomBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		data := make([]byte, 1+r.IntN(2000))
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		data[0] = 0x00 // no accidental signature
		if _, err := Inspect(data); !errors.Is(err, ErrNotImage) {
			t.Fatalf("Inspect(random #%d) error = %v; want ErrNotImage", i, err)
		}
	}
}

// TestJPEGWalkSeesEveryScan checks that the walker hops over scan data to
// the segments between the scans of a progressive JPEG.
func TestJPEGWalkSeesEveryScan(t *testing.T) {
	tests := []struct {
		name      string
		data      []byte
		wantScans int
	}{
		{"synthetic", syntheticProgressive(8, 8), 2},
		{"real progressive", readTestdata(t, "progressive.jpeg"), 10},
		{"baseline", jpegBytes(t, photo(t, 16, 16), 90), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scans := 0
			end, err := walkJPEG(tt.data, func(s jpegSegment) error {
				if s.marker == markerSOS {
					scans++
				}
				return nil
			})
			if err != nil || end != len(tt.data) {
				t.Fatalf("walkJPEG() = %d, %v; want %d, nil", end, err, len(tt.data))
			}
			if scans != tt.wantScans {
				t.Errorf("walkJPEG() saw %d scans; want %d", scans, tt.wantScans)
			}
		})
	}
}

// TestInspectAllocates nothing for valid input: the walks read the bytes in
// place.
func TestInspectAllocatesNothing(t *testing.T) {
	inputs := map[string][]byte{
		"jpeg": withExif(jpegBytes(t, photo(t, 64, 48), 90), 6, true),
		"png":  pngBytes(t, photo(t, 64, 48)),
		"gif":  gifBytes(t, photo(t, 64, 48)),
		"webp": readTestdata(t, "lossy.webp"),
	}
	for name, data := range inputs {
		allocs := testing.AllocsPerRun(20, func() {
			if _, err := Inspect(data); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("Inspect(%s) allocates %.0f times per call; want 0", name, allocs)
		}
	}
}

// TestInspectRefusesScanBomb checks that a progressive JPEG of absurdly many
// tiny scans is refused from its structure, before anything decodes it:
// 20,000 scans of a 2048x2048 image take minutes to decode.
func TestInspectRefusesScanBomb(t *testing.T) {
	bomb := manyScansJPEG(2048, 2048, 20000)
	start := time.Now()
	_, err := Inspect(bomb)
	elapsed := time.Since(start)
	if !errors.Is(err, ErrTooComplex) || !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Inspect(%d-byte file of 20001 scans) error = %v; want ErrTooComplex, an ErrUnsupported", len(bomb), err)
	}
	if elapsed > time.Second { // it walks 364 KB; decoding would take minutes
		t.Errorf("Inspect took %v to refuse the scan bomb", elapsed)
	}

	tests := []struct {
		name    string
		data    []byte
		wantErr bool
	}{
		{"real progressive, 10 scans", readTestdata(t, "progressive.jpeg"), false},
		{"15 scans", manyScansJPEG(256, 128, 14), false},
		{"MaxJPEGScans scans", manyScansJPEG(128, 128, MaxJPEGScans-1), false},
		{"one scan more", manyScansJPEG(128, 128, MaxJPEGScans), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Inspect(tt.data)
			if gotErr := errors.Is(err, ErrTooComplex); gotErr != tt.wantErr {
				t.Fatalf("Inspect() error = %v; want ErrTooComplex: %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if err != nil {
				t.Fatalf("Inspect() error = %v", err)
			}
			// The crafted files are real JPEGs, not just structurally valid.
			if _, err := jpeg.Decode(bytes.NewReader(tt.data)); err != nil {
				t.Errorf("jpeg.Decode() error = %v", err)
			}
		})
	}
}

// sized returns an Info with only the fields every format has.
func sized(contentType string, w, h, orientation int) Info {
	return Info{ContentType: contentType, Width: w, Height: h, Orientation: orientation}
}

// sizeOf returns info with only the fields sized sets.
func sizeOf(info Info) Info {
	return sized(info.ContentType, info.Width, info.Height, info.Orientation)
}
