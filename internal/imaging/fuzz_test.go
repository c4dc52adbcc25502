package imaging

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
)

// FuzzInspect checks that Inspect never panics nor hangs on arbitrary bytes,
// and that whatever it accepts Prepare handles without panicking: the fast
// path's output must pass Inspect again. `go test` runs the seeds; run
// `go test -run x -fuzz FuzzInspect -fuzztime 30s ./internal/imaging/` to
// explore.
func FuzzInspect(f *testing.F) {
	small := photo(f, 12, 8)
	jpg := jpegBytes(f, small, 80)
	marker := toNRGBAImage(quadrants(6, 4))
	vp8l := riffChunk("VP8L", vp8lPayload(f, marker))
	for _, seed := range [][]byte{
		nil,
		[]byte("hello"),
		jpg,
		withExif(jpg, 6, true),
		withExifOrder(jpg, binary.BigEndian, 3, false),
		allMetadata(jpg, 1, iccProfile("RGB ")),
		syntheticProgressive(16, 16),
		bombJPEG(30000, 30000, true),
		pngBytes(f, small),
		withChunks(pngBytes(f, small), pngChunkBytes("eXIf", exifTIFF(binary.LittleEndian, 8, true))),
		bombPNG(30000, 30000),
		gifBytes(f, small),
		webpFile(vp8l),
		webpFile(vp8xChunk(0x2C, 6, 4), riffChunk("ICCP", iccProfile("RGB ")), vp8l, riffChunk("EXIF", exifTIFF(binary.LittleEndian, 6, true))),
		ftyp("heic", "mif1"),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Inspect(data)
		if err != nil {
			for _, sentinel := range []error{ErrEmpty, ErrNotImage, ErrUnsupported, ErrTruncated, ErrCorrupt} {
				if errors.Is(err, sentinel) {
					return
				}
			}
			t.Fatalf("Inspect() error %v wraps no sentinel", err)
		}
		if info.Width <= 0 || info.Height <= 0 || info.Orientation < 1 || info.Orientation > 8 {
			t.Fatalf("Inspect() = %+v with no error", info)
		}
		if info.Pixels() > 1<<16 {
			return // the caller would refuse it before Prepare decodes
		}
		out, err := Prepare(context.Background(), data, info, Options{})
		if err == nil && out.ContentType == info.ContentType && info.Orientation == 1 {
			if _, err := Inspect(out.Data); err != nil {
				t.Fatalf("Inspect(fast-path output) error = %v", err)
			}
		}
		_, _ = Prepare(context.Background(), data, info, Options{MaxSide: 5})
	})
}
