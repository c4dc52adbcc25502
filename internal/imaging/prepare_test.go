package imaging

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"

	"golang.org/x/image/webp"
)

// prepare inspects data and prepares it, failing the test on any error.
func prepare(tb testing.TB, data []byte, opt Options) Prepared {
	tb.Helper()
	info, err := Inspect(data)
	if err != nil {
		tb.Fatalf("Inspect() error = %v", err)
	}
	out, err := Prepare(context.Background(), data, info, opt)
	if err != nil {
		tb.Fatalf("Prepare() error = %v", err)
	}
	if got := Sniff(out.Data); got != out.ContentType {
		tb.Fatalf("Prepare() ContentType = %q; the bytes sniff as %q", out.ContentType, got)
	}
	img := decodeBytes(tb, out.Data)
	if b := img.Bounds(); b.Dx() != out.Width || b.Dy() != out.Height {
		tb.Fatalf("Prepare() says %dx%d; the bytes decode to %v", out.Width, out.Height, b.Size())
	}
	return out
}

// assertNoMetadata fails if out holds any trace of the test EXIF blocks,
// XMP or comments.
func assertNoMetadata(tb testing.TB, out []byte) {
	tb.Helper()
	for _, leak := range [][]byte{
		[]byte("Exif\x00\x00"),
		[]byte(gpsMake),
		gpsLatitude(binary.LittleEndian),
		gpsLatitude(binary.BigEndian),
		[]byte("II*\x00"),
		[]byte("MM\x00*"),
		[]byte("ns.adobe.com/xap"),
		[]byte("Photoshop 3.0"),
		[]byte("secret comment"),
		[]byte("ftypmp42"),
	} {
		if bytes.Contains(out, leak) {
			tb.Errorf("output contains %q", leak)
		}
	}
}

// allMetadata returns jpegBytes with every kind of metadata a phone or an
// editor writes: EXIF with GPS (orientation o), XMP, IPTC, a comment, an ICC
// profile, and a motion-photo video after EOI.
func allMetadata(jpegBytes []byte, o int, profile []byte) []byte {
	b := withSegment(jpegBytes, markerAPP2, iccAPP2(profile))
	b = withSegment(b, 0xED, []byte("Photoshop 3.0\x008BIM\x04\x04\x00\x00")) // APP13 IPTC
	b = withSegment(b, markerCOM, []byte("secret comment"))
	b = withSegment(b, markerAPP1, []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>"))
	b = withExif(b, o, true)
	return append(b, ftyp("mp42", "isom")...)
}

func TestPrepareFastPathJPEG(t *testing.T) {
	plain := jpegBytes(t, photo(t, 64, 48), 90)
	profile := iccProfile("RGB ")
	in := allMetadata(plain, 1, profile)

	out := prepare(t, in, Options{MaxSide: 64})
	assertNoMetadata(t, out.Data)
	if out.ContentType != TypeJPEG || out.Width != 64 || out.Height != 48 {
		t.Errorf("Prepare() = %s %dx%d; want image/jpeg 64x48", out.ContentType, out.Width, out.Height)
	}
	// Exactly the encoder's output plus the ICC segment: nothing re-encoded,
	// nothing else kept.
	if want := withSegment(plain, markerAPP2, iccAPP2(profile)); !bytes.Equal(out.Data, want) {
		t.Errorf("Prepare() = %d bytes; want the %d bytes of the plain JPEG with its ICC segment", len(out.Data), len(want))
	}
	if !bytes.Equal(scanData(t, out.Data), scanData(t, in)) {
		t.Error("Prepare() changed the scan data on the fast path")
	}
	if x, y, ok := samePixels(decodeBytes(t, out.Data), decodeBytes(t, plain), 0); !ok {
		t.Errorf("Prepare() pixels differ at (%d,%d)", x, y)
	}
	if cap(out.Data) != len(out.Data) {
		t.Errorf("Prepare() output has cap %d for len %d; want one exact allocation", cap(out.Data), len(out.Data))
	}
}

func TestPrepareFastPathKeepsColourSegments(t *testing.T) {
	plain := jpegBytes(t, photo(t, 16, 16), 90)
	in := withSegment(plain, markerAPP14, []byte("Adobe\x00\x64\x00\x00\x00\x00\x01"))
	in = withSegment(in, markerAPP0, []byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"))
	in = withSegment(in, markerAPP0, []byte("JFXX\x00\x10thumbnail"))
	out := prepare(t, in, Options{})
	want := withSegment(withSegment(plain, markerAPP14, []byte("Adobe\x00\x64\x00\x00\x00\x00\x01")),
		markerAPP0, []byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"))
	if !bytes.Equal(out.Data, want) {
		t.Errorf("Prepare() kept %q; want only JFIF and Adobe segments", out.Data[:min(len(out.Data), 60)])
	}
}

// TestPrepareReturnsInputWhenClean checks the no-copy promise: an image
// without metadata comes back as the very same slice.
func TestPrepareReturnsInputWhenClean(t *testing.T) {
	img := photo(t, 32, 24)
	tests := []struct {
		name string
		data []byte
	}{
		{"jpeg", jpegBytes(t, img, 90)},
		{"png", pngBytes(t, img)},
		{"webp", webpFile(riffChunk("VP8L", vp8lPayload(t, toNRGBAImage(quadrants(8, 6)))))},
		{"webp lossy", readTestdata(t, "lossy.webp")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := prepare(t, tt.data, Options{MaxSide: 4096, MaxPixels: 1 << 24})
			if len(out.Data) != len(tt.data) || &out.Data[0] != &tt.data[0] {
				t.Error("Prepare() copied an input that had nothing to remove")
			}
		})
	}
}

func TestPrepareOrientation6(t *testing.T) {
	// 40x20 with a red left half, stored as a phone stores a portrait photo.
	stored := image.NewRGBA(image.Rect(0, 0, 40, 20))
	for y := range 20 {
		for x := range 40 {
			c := color.RGBA{255, 255, 255, 255}
			if x < 20 {
				c = color.RGBA{255, 0, 0, 255}
			}
			stored.SetRGBA(x, y, c)
		}
	}
	in := allMetadata(jpegBytes(t, stored, 95), 6, iccProfile("RGB "))

	out := prepare(t, in, Options{})
	if out.Width != 20 || out.Height != 40 || out.ContentType != TypeJPEG {
		t.Fatalf("Prepare() = %s %dx%d; want image/jpeg 20x40", out.ContentType, out.Width, out.Height)
	}
	img := decodeBytes(t, out.Data)
	if top, bottom := colourName(img.At(10, 10)), colourName(img.At(10, 30)); top != "red" || bottom != "white" {
		t.Errorf("Prepare() top, bottom = %s, %s; want red, white", top, bottom)
	}
	assertNoMetadata(t, out.Data)
	info, err := Inspect(out.Data)
	if err != nil || info.Orientation != 1 {
		t.Errorf("Inspect(Prepare()) = %+v, %v; want orientation 1", info, err)
	}
	// The slow path re-encodes, but the colour profile goes along.
	if !bytes.Contains(out.Data, iccAPP2(iccProfile("RGB "))) {
		t.Error("Prepare() dropped the ICC profile on the slow path")
	}
}

// TestPrepareAllOrientations checks each EXIF orientation by where the
// markers of a quadrant image end up, for JPEG (EXIF in APP1) and PNG (EXIF in
// eXIf), with and without scaling.
func TestPrepareAllOrientations(t *testing.T) {
	// Stored: red top-left, blue top-right. Upright quadrants: TL, TR, BL, BR.
	want := map[int][4]string{
		1: {"red", "blue", "white", "white"},
		2: {"blue", "red", "white", "white"},
		3: {"white", "white", "blue", "red"},
		4: {"white", "white", "red", "blue"},
		5: {"red", "white", "blue", "white"},
		6: {"white", "red", "white", "blue"},
		7: {"white", "blue", "white", "red"},
		8: {"blue", "white", "red", "white"},
	}
	stored := quadrants(64, 32)
	jpg := jpegBytes(t, stored, 100)
	pngData := pngBytes(t, stored)
	for o := 1; o <= 8; o++ {
		for _, maxSide := range []int{0, 32} {
			inputs := map[string][]byte{
				"jpeg": withExif(jpg, o, false),
				"png":  withChunks(pngData, pngChunkBytes("eXIf", exifTIFF(binary.BigEndian, o, false))),
			}
			for format, in := range inputs {
				t.Run(fmt.Sprintf("%s/o%d/maxside%d", format, o, maxSide), func(t *testing.T) {
					out := prepare(t, in, Options{MaxSide: maxSide})
					w, h := orientedSize(64, 32, o)
					if maxSide > 0 {
						w, h = w/2, h/2
					}
					if out.Width != w || out.Height != h {
						t.Errorf("Prepare() size = %dx%d; want %dx%d", out.Width, out.Height, w, h)
					}
					if got := quadrantColours(decodeBytes(t, out.Data)); got != want[o] {
						t.Errorf("Prepare() quadrants = %v; want %v", got, want[o])
					}
					if wantType := "image/" + format; out.ContentType != wantType {
						t.Errorf("Prepare() ContentType = %s; want %s", out.ContentType, wantType)
					}
				})
			}
		}
	}
}

func TestPrepareScale(t *testing.T) {
	jpg := jpegBytes(t, photo(t, 800, 600), 85)
	tests := []struct {
		name          string
		data          []byte
		opt           Options
		wantW, wantH  int
		wantType      string
		wantMaxPixels int64
	}{
		{"jpeg max side", jpg, Options{MaxSide: 307}, 307, 230, TypeJPEG, 0},
		{"jpeg max side shrinks 3x", jpg, Options{MaxSide: 200}, 200, 150, TypeJPEG, 0},
		{"jpeg max pixels", jpg, Options{MaxPixels: 100_000}, 365, 273, TypeJPEG, 100_000},
		{"jpeg both limits", jpg, Options{MaxSide: 500, MaxPixels: 50_000}, 258, 193, TypeJPEG, 50_000},
		{"jpeg portrait orientation 8", withExif(jpg, 8, true), Options{MaxSide: 400}, 300, 400, TypeJPEG, 0},
		{"jpeg quality option", jpg, Options{MaxSide: 400, JPEGQuality: 40}, 400, 300, TypeJPEG, 0},
		{"png stays png", pngBytes(t, photo(t, 300, 200)), Options{MaxSide: 150}, 150, 100, TypePNG, 0},
		{"gray png", pngBytes(t, image.NewGray(image.Rect(0, 0, 90, 60))), Options{MaxSide: 30}, 30, 20, TypePNG, 0},
		{"transparent png", pngBytes(t, image.NewNRGBA(image.Rect(0, 0, 90, 60))), Options{MaxSide: 30}, 30, 20, TypePNG, 0},
		{"lossy webp becomes png", readTestdata(t, "lossy.webp"), Options{MaxSide: 75}, 75, 50, TypePNG, 0},
		{"gif becomes png", gifBytes(t, photo(t, 120, 80)), Options{MaxPixels: 2400}, 60, 40, TypePNG, 2400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := prepare(t, tt.data, tt.opt)
			if out.Width != tt.wantW || out.Height != tt.wantH || out.ContentType != tt.wantType {
				t.Errorf("Prepare() = %s %dx%d; want %s %dx%d", out.ContentType, out.Width, out.Height, tt.wantType, tt.wantW, tt.wantH)
			}
			if tt.wantMaxPixels > 0 && int64(out.Width)*int64(out.Height) > tt.wantMaxPixels {
				t.Errorf("Prepare() = %dx%d, over %d pixels", out.Width, out.Height, tt.wantMaxPixels)
			}
			assertNoMetadata(t, out.Data)
		})
	}
}

// TestPrepareScaleQuality checks that shrinking keeps the picture: the
// scaled photo must look like the original reduced, not like noise from
// skipped pixels.
func TestPrepareScaleQuality(t *testing.T) {
	// Vertical stripes 1 px wide alternate black and white: any aliasing
	// resampler shows them as black or white; a proper one gives grey.
	stripes := image.NewGray(image.Rect(0, 0, 300, 200))
	for i := range stripes.Pix {
		if i%2 == 0 {
			stripes.Pix[i] = 255
		}
	}
	out := prepare(t, pngBytes(t, stripes), Options{MaxSide: 100})
	img := decodeBytes(t, out.Data)
	for _, p := range []image.Point{{10, 10}, {33, 50}, {71, 60}} {
		if r, _, _, _ := img.At(p.X, p.Y).RGBA(); r>>8 < 100 || r>>8 > 155 {
			t.Errorf("pixel %v = %d; want mid grey (anti-aliased)", p, r>>8)
		}
	}
}

func TestFitSize(t *testing.T) {
	tests := []struct {
		w, h, maxSide int
		maxPixels     int64
		wantW, wantH  int
	}{
		{8000, 6000, 3072, 0, 3072, 2304},
		{6000, 8000, 3072, 0, 2304, 3072},
		{4000, 3000, 0, 0, 4000, 3000},
		{4000, 3000, 4000, 0, 4000, 3000},
		{4000, 3000, 0, 12_000_000, 4000, 3000},
		{4000, 3000, 0, 3_000_000, 2000, 1500},
		{4000, 3000, 0, 1_000_000, 1154, 866},
		{8000, 6000, 3072, 4_000_000, 2309, 1732},
		{10000, 10, 100, 0, 100, 1},
		{10, 10000, 0, 50, 1, 50},
		{3, 3, 0, 1, 1, 1},
	}
	for _, tt := range tests {
		w, h := fitSize(tt.w, tt.h, tt.maxSide, tt.maxPixels)
		if w != tt.wantW || h != tt.wantH {
			t.Errorf("fitSize(%d, %d, %d, %d) = %d, %d; want %d, %d", tt.w, tt.h, tt.maxSide, tt.maxPixels, w, h, tt.wantW, tt.wantH)
		}
		if tt.maxPixels > 0 && int64(w)*int64(h) > tt.maxPixels {
			t.Errorf("fitSize(%d, %d, %d, %d) = %dx%d exceeds the pixel limit", tt.w, tt.h, tt.maxSide, tt.maxPixels, w, h)
		}
	}
}

func TestPreparePNG(t *testing.T) {
	plain := pngBytes(t, photo(t, 40, 30))
	iccp := pngChunkBytes("iCCP", []byte("ICC Profile\x00\x00zlib-data"))
	metadata := [][]byte{
		pngChunkBytes("tEXt", []byte("Comment\x00secret comment")),
		pngChunkBytes("iTXt", []byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00<x:xmpmeta xmlns:x='ns.adobe.com/xap'/>")),
		pngChunkBytes("zTXt", []byte("Raw profile type exif\x00\x00zz")),
		pngChunkBytes("tIME", []byte{0x07, 0xE9, 1, 2, 3, 4, 5}),
		pngChunkBytes("pHYs", []byte{0, 0, 0x0B, 0x13, 0, 0, 0x0B, 0x13, 1}),
	}

	t.Run("fast path", func(t *testing.T) {
		exif := pngChunkBytes("eXIf", exifTIFF(binary.LittleEndian, 1, true))
		in := withChunks(plain, append([][]byte{iccp, exif}, metadata...)...)
		out := prepare(t, in, Options{})
		assertNoMetadata(t, out.Data)
		// Kept: IHDR, iCCP, pHYs, IDAT, IEND, byte for byte.
		if want := withChunks(plain, iccp, metadata[4]); !bytes.Equal(out.Data, want) {
			t.Errorf("Prepare() = %d bytes; want %d: IHDR, iCCP, pHYs and the untouched IDAT", len(out.Data), len(want))
		}
	})
	t.Run("slow path", func(t *testing.T) {
		exif := pngChunkBytes("eXIf", exifTIFF(binary.LittleEndian, 6, true))
		in := withChunks(plain, append([][]byte{iccp, exif}, metadata...)...)
		out := prepare(t, in, Options{})
		assertNoMetadata(t, out.Data)
		if out.ContentType != TypePNG || out.Width != 30 || out.Height != 40 {
			t.Errorf("Prepare() = %s %dx%d; want image/png 30x40", out.ContentType, out.Width, out.Height)
		}
		if !bytes.Equal(out.Data[pngHeaderSize:pngHeaderSize+len(iccp)], iccp) {
			t.Error("Prepare() did not put the iCCP chunk right after IHDR")
		}
		if _, err := Inspect(out.Data); err != nil {
			t.Errorf("Inspect(Prepare()) error = %v", err)
		}
	})
}

func TestPrepareWebP(t *testing.T) {
	marker := toNRGBAImage(quadrants(24, 16))
	vp8l := riffChunk("VP8L", vp8lPayload(t, marker))
	iccp := riffChunk("ICCP", iccProfile("RGB "))
	xmp := riffChunk("XMP ", []byte("<x:xmpmeta xmlns:x='ns.adobe.com/xap'/>"))
	const flags = 0x20 | vp8xEXIF | vp8xXMP // ICC, EXIF, XMP

	t.Run("fast path", func(t *testing.T) {
		in := webpFile(vp8xChunk(flags, 24, 16), iccp, vp8l, riffChunk("EXIF", exifTIFF(binary.LittleEndian, 1, true)), xmp)
		out := prepare(t, in, Options{})
		assertNoMetadata(t, out.Data)
		if want := webpFile(vp8xChunk(0x20, 24, 16), iccp, vp8l); !bytes.Equal(out.Data, want) {
			t.Errorf("Prepare() = %q; want VP8X (ICC flag only), ICCP and VP8L", out.Data)
		}
		img, err := webp.Decode(bytes.NewReader(out.Data))
		if err != nil {
			t.Fatalf("webp.Decode(Prepare()) error = %v", err)
		}
		if x, y, ok := samePixels(img, marker, 0); !ok {
			t.Errorf("Prepare() pixels differ at (%d,%d)", x, y)
		}
	})
	t.Run("orientation makes png", func(t *testing.T) {
		in := webpFile(vp8xChunk(flags, 24, 16), iccp, vp8l, riffChunk("EXIF", exifTIFF(binary.BigEndian, 8, true)), xmp)
		out := prepare(t, in, Options{})
		assertNoMetadata(t, out.Data)
		if out.ContentType != TypePNG || out.Width != 16 || out.Height != 24 {
			t.Fatalf("Prepare() = %s %dx%d; want image/png 16x24", out.ContentType, out.Width, out.Height)
		}
		if got, want := quadrantColours(decodeBytes(t, out.Data)), [4]string{"blue", "white", "red", "white"}; got != want {
			t.Errorf("Prepare() quadrants = %v; want %v", got, want)
		}
		if !bytes.Contains(out.Data, []byte("iCCPICC Profile\x00\x00")) {
			t.Error("Prepare() dropped the WebP ICC profile")
		}
		if _, err := Inspect(out.Data); err != nil { // checks the iCCP CRC too
			t.Errorf("Inspect(Prepare()) error = %v", err)
		}
	})
}

func TestPrepareGIF(t *testing.T) {
	t.Run("whole screen", testPrepareGIFScreen)
	t.Run("first frame smaller than the screen", func(t *testing.T) {
		pal := color.Palette{color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}}
		first := image.NewPaletted(image.Rect(2, 2, 6, 6), pal) // red
		second := image.NewPaletted(image.Rect(0, 0, 10, 8), pal)
		for i := range second.Pix {
			second.Pix[i] = 1 // blue, must not show
		}
		var b bytes.Buffer
		err := gif.EncodeAll(&b, &gif.GIF{
			Image:  []*image.Paletted{first, second},
			Delay:  []int{10, 10},
			Config: image.Config{ColorModel: pal, Width: 10, Height: 8},
		})
		if err != nil {
			t.Fatal(err)
		}
		out := prepare(t, b.Bytes(), Options{})
		img := decodeBytes(t, out.Data)
		if out.Width != 10 || out.Height != 8 {
			t.Errorf("Prepare() = %dx%d; want the 10x8 screen", out.Width, out.Height)
		}
		if got := colourName(img.At(3, 3)); got != "red" {
			t.Errorf("Prepare() frame pixel = %s; want red", got)
		}
		if _, _, _, a := img.At(8, 7).RGBA(); a != 0 {
			t.Errorf("Prepare() pixel outside the first frame has alpha %d; want transparent", a)
		}
	})
}

func testPrepareGIFScreen(t *testing.T) {
	in := gifBytes(t, quadrants(20, 10))
	out := prepare(t, in, Options{})
	if out.ContentType != TypePNG || out.Width != 20 || out.Height != 10 {
		t.Fatalf("Prepare() = %s %dx%d; want image/png 20x10", out.ContentType, out.Width, out.Height)
	}
	if x, y, ok := samePixels(decodeBytes(t, out.Data), decodeBytes(t, in), 0); !ok {
		t.Errorf("Prepare() pixels differ at (%d,%d)", x, y)
	}
	if _, err := png.DecodeConfig(bytes.NewReader(out.Data)); err != nil {
		t.Errorf("png.DecodeConfig(Prepare()) error = %v", err)
	}
}

func TestPrepareErrors(t *testing.T) {
	jpg := jpegBytes(t, photo(t, 16, 16), 90)
	tests := []struct {
		name    string
		data    []byte
		info    Info
		wantErr error
	}{
		{"zero info inspects: text", []byte("not an image"), Info{}, ErrNotImage},
		{"zero info inspects: empty", nil, Info{}, ErrEmpty},
		{"zero info inspects: truncated", jpg[:len(jpg)/2], Info{}, ErrTruncated},
		{"unsupported type", []byte("BM\x00\x00\x00\x00\x00\x00\x00\x00"), Info{ContentType: "image/bmp", Width: 10, Height: 10}, ErrUnsupported},
		{"heic that does not decode", ftyp("heic", "mif1"), Info{ContentType: TypeHEIC, Width: 10, Height: 10}, ErrCorrupt},
		{"fast path on broken bytes", jpg[:len(jpg)/2], Info{ContentType: TypeJPEG, Width: 16, Height: 16, Orientation: 1}, ErrTruncated},
		{"slow path on broken bytes", withExif(jpg, 6, false)[:200], Info{ContentType: TypeJPEG, Width: 16, Height: 16, Orientation: 6}, ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Prepare(context.Background(), tt.data, tt.info, Options{}); !errors.Is(err, tt.wantErr) {
				t.Errorf("Prepare() error = %v; want %v", err, tt.wantErr)
			}
		})
	}
}

func TestPrepareInPlaceReusesTheBuffer(t *testing.T) {
	clean := jpegBytes(t, quadrants(64, 48), 90)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"jpeg with exif and gps", withExif(clean, 1, true)},
		{"png with text", withChunks(pngBytes(t, quadrants(32, 32)), pngChunkBytes("tEXt", []byte("Comment\x00secret")))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := Prepare(context.Background(), bytes.Clone(tc.data), Info{}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			data := bytes.Clone(tc.data)
			got, err := Prepare(context.Background(), data, Info{}, Options{InPlace: true})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Data, want.Data) {
				t.Fatal("in-place result differs from the copying one")
			}
			if &got.Data[0] != &data[0] {
				t.Error("in-place strip allocated a new buffer")
			}
			if allocs := testing.AllocsPerRun(10, func() {
				d := bytes.Clone(tc.data)
				_, _ = Prepare(context.Background(), d, Info{}, Options{InPlace: true})
			}); allocs > 3 { // the clone, and the drop list
				t.Errorf("%.0f allocations per in-place strip", allocs)
			}
		})
	}
}

// TestPrepareStopsWhenCancelled checks that a request nobody waits for does
// no work: Prepare, the decoders and the encoders return the context's error.
func TestPrepareStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rotated := withExif(jpegBytes(t, photo(t, 64, 48), 90), 6, false)
	for name, data := range map[string][]byte{
		"fast path": jpegBytes(t, photo(t, 64, 48), 90),
		"slow path": rotated,
	} {
		if _, err := Prepare(ctx, data, Info{}, Options{}); !errors.Is(err, context.Canceled) {
			t.Errorf("Prepare(cancelled, %s) error = %v; want context.Canceled", name, err)
		}
	}

	pngData := pngBytes(t, photo(t, 64, 48))
	if _, err := decode(ctx, pngData, Info{ContentType: TypePNG}); !errors.Is(err, context.Canceled) {
		t.Errorf("decode(cancelled) error = %v; want context.Canceled", err)
	}
	img := photo(t, 64, 256)
	var b bytes.Buffer
	if err := encodeJPEGStriped(ctx, &b, img, &jpeg.Options{Quality: 90}, 32, 2); !errors.Is(err, context.Canceled) {
		t.Errorf("encodeJPEGStriped(cancelled) error = %v; want context.Canceled", err)
	}
	if err := encodePNG(ctx, &b, img, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("encodePNG(cancelled) error = %v; want context.Canceled", err)
	}
}

// planted is the text the crafted files below hide where a negative list of
// metadata would not look.
const planted = "GPS 48.8584N 2.2945E"

// TestPrepareFastPathKeepsOnlyWhatRenders checks that stripping is a positive
// list: metadata in segments and chunks nobody thinks of as metadata goes,
// and the pixels stay the same.
func TestPrepareFastPathKeepsOnlyWhatRenders(t *testing.T) {
	plainJPEG := jpegBytes(t, photo(t, 32, 24), 90)
	plainPNG := pngBytes(t, photo(t, 32, 24))
	sPLT := append([]byte(planted+"\x00\x08"), 1, 2, 3, 4, 0, 1) // name, depth, one entry
	tests := []struct {
		name  string
		data  []byte
		plain []byte
	}{
		{"JPEG JPG7 segment", withSegment(plainJPEG, 0xF7, []byte(planted)), plainJPEG},
		{"JPEG JPG13 segment", withSegment(plainJPEG, 0xFD, []byte(planted)), plainJPEG},
		{"JPEG JFIF with a thumbnail", withSegment(plainJPEG, markerAPP0,
			append([]byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x07\x01"), planted+"\x00"...)), plainJPEG},
		{"JPEG Adobe with a tail", withSegment(plainJPEG, markerAPP14,
			append([]byte("Adobe\x00\x64\x00\x00\x00\x00\x01"), planted...)), plainJPEG},
		{"PNG sPLT", withChunks(plainPNG, pngChunkBytes("sPLT", sPLT)), plainPNG},
		{"PNG APNG frame control", withChunks(plainPNG, pngChunkBytes("acTL", []byte(planted[:8]))), plainPNG},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := prepare(t, tt.data, Options{})
			if bytes.Contains(out.Data, []byte(planted)) || bytes.Contains(out.Data, []byte(planted[:8])) {
				t.Errorf("Prepare() output contains the planted %q", planted)
			}
			if x, y, ok := samePixels(decodeBytes(t, out.Data), decodeBytes(t, tt.plain), 0); !ok {
				t.Errorf("Prepare() pixels differ at (%d,%d)", x, y)
			}
		})
	}
}

// TestPrivateCriticalPNGChunkRefused checks that a PNG with a critical chunk
// no decoder knows is refused, as the PNG specification tells decoders to:
// neither forwarded (a provider's decoder would fail on it) nor silently
// altered.
func TestPrivateCriticalPNGChunkRefused(t *testing.T) {
	data := withChunks(pngBytes(t, photo(t, 32, 24)), pngChunkBytes("GpSx", []byte(planted)))
	if _, err := Inspect(data); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Inspect() error = %v; want ErrUnsupported", err)
	}
	out, err := Prepare(context.Background(), data, Info{}, Options{})
	if !errors.Is(err, ErrUnsupported) || bytes.Contains(out.Data, []byte(planted)) {
		t.Errorf("Prepare() = %d bytes, %v; want nothing and ErrUnsupported", len(out.Data), err)
	}
}

// hugeICCJPEG returns jpegBytes with an ICC profile of n bytes split over as
// many APP2 segments as it needs, as writers do for large profiles.
func hugeICCJPEG(jpegBytes []byte, n int) []byte {
	const part = 65519 // the most a segment holds after its 14-byte header
	profile := bytes.Repeat([]byte("ICCLUT!!"), n/8)
	count := ceilDiv(len(profile), part)
	out := jpegBytes
	for i := count - 1; i >= 0; i-- { // withSegment inserts after SOI: go backwards
		p := append([]byte(iccJPEGPrefix), byte(i+1), byte(count))
		out = withSegment(out, markerAPP2, append(p, profile[i*part:min(len(profile), (i+1)*part)]...))
	}
	return out
}

// TestPrepareDropsHugeICCProfiles checks that a file made mostly of colour
// profile can be brought under a byte budget: a profile over
// MaxICCProfileBytes goes, on both paths and for every format that has one.
func TestPrepareDropsHugeICCProfiles(t *testing.T) {
	plainJPEG := jpegBytes(t, photo(t, 64, 48), 90)
	bigJPEG := hugeICCJPEG(plainJPEG, 5<<20)
	plainPNG := pngBytes(t, photo(t, 64, 48))
	iccp := append([]byte("big\x00\x00"), bytes.Repeat([]byte{0x78}, 2<<20)...) // not even valid zlib
	marker := toNRGBAImage(quadrants(16, 16))
	webpICC := webpFile(vp8xChunk(0x20|0x10, 16, 16), riffChunk("ICCP", bytes.Repeat([]byte("ICCLUT!!"), 2<<17)),
		riffChunk("VP8L", vp8lPayload(t, marker)))
	tests := []struct {
		name  string
		data  []byte
		opt   Options
		plain []byte
	}{
		{"JPEG fast path", bigJPEG, Options{}, plainJPEG},
		{"JPEG slow path", withExif(bigJPEG, 3, false), Options{}, nil},
		{"JPEG scaled", bigJPEG, Options{MaxSide: 32}, nil},
		{"PNG fast path", withChunks(plainPNG, pngChunkBytes("iCCP", iccp)), Options{}, plainPNG},
		{"WebP fast path", webpICC, Options{}, nil},
		{"WebP slow path", webpICC, Options{MaxSide: 8}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := prepare(t, tt.data, tt.opt)
			if len(out.Data) > 64<<10 {
				t.Errorf("Prepare() = %d bytes from %d; want the pixels alone, under 64 KB", len(out.Data), len(tt.data))
			}
			for _, leak := range []string{"ICC_PROFILE", "iCCP", "ICCP", "ICCLUT!!"} {
				if bytes.Contains(out.Data, []byte(leak)) {
					t.Errorf("Prepare() output contains %q", leak)
				}
			}
			if out.ContentType == TypeWebP && out.Data[20]&0x20 != 0 {
				t.Error("Prepare() kept the VP8X flag of the ICC profile it dropped")
			}
			if tt.plain != nil {
				if x, y, ok := samePixels(decodeBytes(t, out.Data), decodeBytes(t, tt.plain), 0); !ok {
					t.Errorf("Prepare() pixels differ at (%d,%d)", x, y)
				}
			}
		})
	}
}
