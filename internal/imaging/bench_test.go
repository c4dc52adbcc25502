package imaging

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"io"
	"testing"

	"golang.org/x/image/draw"
)

// Benchmarks use phone-sized JPEGs built once per benchmark (the code before
// b.Loop runs once and is not timed). Compare the slow-path Prepare figures
// with BenchmarkDecode* plus BenchmarkEncodeOutput: decoding and encoding
// are the floor, everything above it is Prepare's own work.
//
//	go test -run x -bench . -benchmem ./internal/imaging/

// phoneJPEG returns a w×h photo-like JPEG at quality 90, as phones write.
func phoneJPEG(b *testing.B, w, h int) []byte {
	b.Helper()
	return jpegBytes(b, photo(b, w, h), 90)
}

func BenchmarkInspect12MP(b *testing.B) {
	data := withExif(phoneJPEG(b, 4000, 3000), 6, true)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Inspect(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPrepareFastPath12MP strips EXIF, GPS, XMP, IPTC, a comment and an
// appended motion-photo video from an upright 12 MP JPEG.
func BenchmarkPrepareFastPath12MP(b *testing.B) {
	benchmarkPrepare(b, allMetadata(phoneJPEG(b, 4000, 3000), 1, iccProfile("RGB ")), Options{MaxSide: 4096}, 4000, 3000)
}

// BenchmarkPrepareRotate12MP turns a 12 MP portrait photo upright
// (orientation 6): decode, rotate the YCbCr planes, encode.
func BenchmarkPrepareRotate12MP(b *testing.B) {
	benchmarkPrepare(b, withExif(phoneJPEG(b, 4000, 3000), 6, true), Options{}, 3000, 4000)
}

// BenchmarkPrepareRotateScale12MP is the everyday case: a 12 MP portrait
// photo, upright and no larger than 3072 px.
func BenchmarkPrepareRotateScale12MP(b *testing.B) {
	benchmarkPrepare(b, withExif(phoneJPEG(b, 4000, 3000), 6, true), Options{MaxSide: 3072}, 2304, 3072)
}

// BenchmarkPrepareScale48MP shrinks an 8000x6000 photo to 3072x2304.
func BenchmarkPrepareScale48MP(b *testing.B) {
	benchmarkPrepare(b, phoneJPEG(b, 8000, 6000), Options{MaxSide: 3072}, 3072, 2304)
}

func benchmarkPrepare(b *testing.B, data []byte, opt Options, wantW, wantH int) {
	b.Helper()
	info, err := Inspect(data)
	if err != nil {
		b.Fatal(err)
	}
	var out Prepared
	for b.Loop() {
		if out, err = Prepare(context.Background(), data, info, opt); err != nil {
			b.Fatal(err)
		}
	}
	if out.Width != wantW || out.Height != wantH {
		b.Fatalf("Prepare() = %dx%d; want %dx%d", out.Width, out.Height, wantW, wantH)
	}
	b.ReportMetric(float64(len(data))/1e6, "input-MB")
	b.ReportMetric(float64(len(out.Data))/1e6, "output-MB")
}

// BenchmarkDecode12MP is the reference for the slow path: one full decode.
func BenchmarkDecode12MP(b *testing.B) {
	benchmarkDecode(b, phoneJPEG(b, 4000, 3000))
}

// BenchmarkDecode48MP is the decode inside BenchmarkPrepareScale48MP.
func BenchmarkDecode48MP(b *testing.B) {
	benchmarkDecode(b, phoneJPEG(b, 8000, 6000))
}

func benchmarkDecode(b *testing.B, data []byte) {
	b.Helper()
	for b.Loop() {
		if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(data))/1e6, "input-MB")
}

// BenchmarkEncodeOutput is the other reference: one JPEG encode at quality
// 90 of exactly the image the slow paths encode — the decoded 12 MP photo
// turned upright (rotation only), or scaled to 3072 px and turned (rotate and
// scale). Encoding time depends on the content, so the reference encodes the
// same pixels Prepare does.
func BenchmarkEncodeOutput(b *testing.B) {
	src, err := jpeg.Decode(bytes.NewReader(phoneJPEG(b, 4000, 3000)))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("3000x4000", func(b *testing.B) {
		benchmarkEncode(b, orient(src, 6))
	})
	b.Run("2304x3072", func(b *testing.B) {
		benchmarkEncode(b, orient(resize(src, 3072, 2304), 6))
	})
}

// BenchmarkEncodeStriped encodes the same pixels as BenchmarkEncodeOutput
// the way Prepare does: in stripes on every core (stripes.go).
func BenchmarkEncodeStriped(b *testing.B) {
	src, err := jpeg.Decode(bytes.NewReader(phoneJPEG(b, 4000, 3000)))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		img  image.Image
	}{{"3000x4000", orient(src, 6)}, {"2304x3072", orient(resize(src, 3072, 2304), 6)}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := encodeJPEG(context.Background(), io.Discard, c.img, 90, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchmarkEncode(b *testing.B, img image.Image) {
	b.Helper()
	for b.Loop() {
		if err := jpeg.Encode(io.Discard, img, &jpeg.Options{Quality: 90}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResize backs the choice of resampler in resize: 4000x3000 YCbCr
// (a decoded 12 MP JPEG) to 3072x2304 with resize's plane bilinear, and with
// draw.ApproxBiLinear into RGBA, the fastest x/image/draw option.
func BenchmarkResize(b *testing.B) {
	src := photo(b, 4000, 3000)
	b.Run("planes", func(b *testing.B) {
		for b.Loop() {
			resize(src, 3072, 2304)
		}
	})
	b.Run("ApproxBiLinear", func(b *testing.B) {
		for b.Loop() {
			dst := image.NewRGBA(image.Rect(0, 0, 3072, 2304))
			draw.ApproxBiLinear.Scale(dst, dst.Rect, src, src.Rect, draw.Src, nil)
		}
	})
	b.Run("planes-48MP", func(b *testing.B) {
		big := photo(b, 8000, 6000)
		for b.Loop() {
			resize(big, 3072, 2304)
		}
	})
}
