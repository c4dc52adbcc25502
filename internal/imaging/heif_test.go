package imaging

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The HEIC and AVIF fixtures were made by heif-enc and avifenc
// (testdata/heifgen); their picture is quadrants(64, 48).

func fixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestInspectHEIF(t *testing.T) {
	cases := []struct {
		file        string
		ct          string
		w, h        int
		orientation int
	}{
		{"quadrants.heic", TypeHEIC, 64, 48, 1},
		{"irot1.heic", TypeHEIC, 64, 48, 8}, // a quarter turn counter-clockwise
		{"exif6.heic", TypeHEIC, 64, 48, 6}, // only Exif says it
		{"multi.heic", TypeHEIC, 64, 48, 1}, // the primary image, not the second
		{"quadrants.avif", TypeAVIF, 64, 48, 1},
		{"irot1.avif", TypeAVIF, 64, 48, 8},
		{"irot3-imir1.avif", TypeAVIF, 64, 48, 5}, // a quarter turn clockwise, then mirrored: a transpose
		{"12mp.heic", TypeHEIC, 4032, 3024, 1},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			info, err := Inspect(fixture(t, c.file))
			if err != nil {
				t.Fatal(err)
			}
			if info.ContentType != c.ct || info.Width != c.w || info.Height != c.h || info.Orientation != c.orientation {
				t.Errorf("Inspect = %s %dx%d orientation %d, want %s %dx%d orientation %d",
					info.ContentType, info.Width, info.Height, info.Orientation, c.ct, c.w, c.h, c.orientation)
			}
		})
	}
}

func TestPrepareHEIF(t *testing.T) {
	cases := []struct {
		file      string
		w, h      int
		quadrants [4]string // top-left, top-right, bottom-left, bottom-right
	}{
		{"quadrants.heic", 64, 48, [4]string{"red", "blue", "white", "white"}},
		{"irot1.heic", 48, 64, [4]string{"blue", "white", "red", "white"}},
		{"exif6.heic", 48, 64, [4]string{"white", "red", "white", "blue"}},
		{"multi.heic", 64, 48, [4]string{"red", "blue", "white", "white"}},
		{"quadrants.avif", 64, 48, [4]string{"red", "blue", "white", "white"}},
		{"irot1.avif", 48, 64, [4]string{"blue", "white", "red", "white"}},
		{"irot3-imir1.avif", 48, 64, [4]string{"red", "white", "blue", "white"}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			data := fixture(t, c.file)
			p, err := Prepare(context.Background(), data, Info{}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if p.ContentType != TypeJPEG || Sniff(p.Data) != TypeJPEG {
				t.Fatalf("Prepare gave %s (sniffed %s), want a JPEG", p.ContentType, Sniff(p.Data))
			}
			img := decodeBytes(t, p.Data)
			if b := img.Bounds(); b.Dx() != c.w || b.Dy() != c.h || p.Width != c.w || p.Height != c.h {
				t.Errorf("size %v (Prepared says %dx%d), want %dx%d", b, p.Width, p.Height, c.w, c.h)
			}
			if got := quadrantColours(img); got != c.quadrants {
				t.Errorf("quadrants %v, want %v", got, c.quadrants)
			}
			// Nothing of the container survives: no Exif, no XMP, no
			// HEIF box names.
			if bytes.Contains(p.Data, []byte("Exif")) || bytes.Contains(p.Data, []byte("ftyp")) {
				t.Error("the prepared JPEG carries metadata from the source")
			}
		})
	}
}

func TestPrepareHEIFScales(t *testing.T) {
	p, err := Prepare(context.Background(), fixture(t, "12mp.heic"), Info{}, Options{MaxSide: 1024})
	if err != nil {
		t.Fatal(err)
	}
	if p.Width != 1024 || p.Height != 768 || p.ContentType != TypeJPEG {
		t.Fatalf("got %s %dx%d, want a 1024x768 JPEG", p.ContentType, p.Width, p.Height)
	}
}

func TestInspectHEIFTruncated(t *testing.T) {
	data := fixture(t, "quadrants.heic")
	for _, n := range []int{len(data) - 1, len(data) - 40, len(data) / 2} {
		_, err := Inspect(data[:n])
		if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrCorrupt) {
			t.Errorf("%d of %d bytes: %v, want ErrTruncated or ErrCorrupt", n, len(data), err)
		}
	}
	if _, err := Inspect(data[:len(data)-1]); !errors.Is(err, ErrTruncated) {
		t.Errorf("one byte short: %v, want ErrTruncated", err)
	}
}

// A header that claims a huge image is read as such without decoding
// anything, so the caller's pixel limit refuses it before a decode starts.
func TestInspectHEIFReadsClaimedSize(t *testing.T) {
	data := bytes.Clone(fixture(t, "quadrants.heic"))
	setISPE(t, data, 30000, 30000)
	info, err := Inspect(data)
	if err != nil {
		t.Fatal(err)
	}
	if info.Pixels() != 30000*30000 {
		t.Fatalf("Pixels = %d, want 9e8", info.Pixels())
	}
	if info.DecodeBytes() < 9e8 {
		t.Errorf("DecodeBytes = %d for a 900 MP claim", info.DecodeBytes())
	}
}

// An image whose coded stream is larger than its header says is refused
// after decoding: the limits were checked against the header.
func TestPrepareHEIFLargerThanClaimed(t *testing.T) {
	data := bytes.Clone(fixture(t, "quadrants.heic"))
	setISPE(t, data, 16, 16)
	_, err := Prepare(context.Background(), data, Info{}, Options{})
	if err == nil {
		t.Fatal("Prepare accepted a 64x48 stream in a 16x16 header")
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("err = %v, want ErrCorrupt", err)
	}
}

func TestPrepareHEIFGarbage(t *testing.T) {
	data := bytes.Clone(fixture(t, "quadrants.heic"))
	// Overwrite the coded picture (the mdat payload) with noise.
	i := bytes.Index(data, []byte("mdat"))
	for j := i + 4; j < len(data); j++ {
		data[j] = byte(j * 31)
	}
	_, err := Prepare(context.Background(), data, Info{}, Options{})
	if err == nil || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
}

func TestSniffHEIFFixtures(t *testing.T) {
	for _, f := range []string{"quadrants.heic", "multi.heic", "quadrants.avif"} {
		want := TypeHEIC
		if strings.HasSuffix(f, ".avif") {
			want = TypeAVIF
		}
		if got := Sniff(fixture(t, f)); got != want {
			t.Errorf("Sniff(%s) = %s, want %s", f, got, want)
		}
	}
}

// TestHEIFDecodeMemory measures what preparing a 12 MP HEIC allocates (the
// WebAssembly decoder's linear memory is Go memory, so the runtime counts
// it) and checks DecodeBytes bounds it. Run with -v for the figures.
func TestHEIFDecodeMemory(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation sizes differ under the race detector")
	}
	data := fixture(t, "12mp.heic")
	info, err := Inspect(data)
	if err != nil {
		t.Fatal(err)
	}
	// The first call compiles the WebAssembly module once per process:
	// measured apart.
	compile := allocated(func() { _, _ = decodeHEIF(context.Background(), data, info) })
	decode := allocated(func() { _, _ = decodeHEIF(context.Background(), data, info) })
	prepare := allocated(func() { _, _ = Prepare(context.Background(), data, info, Options{}) })
	scaled := allocated(func() { _, _ = Prepare(context.Background(), data, info, Options{MaxSide: 2048}) })
	px := float64(info.Pixels())
	t.Logf("12 MP HEIC: first decode (module compile included) %.0f MiB; decode %.0f MiB (%.1f B/px); "+
		"Prepare %.0f MiB (%.1f B/px); Prepare to 2048 px %.0f MiB; DecodeBytes %.0f MiB (%.1f B/px)",
		mb(compile), mb(decode), float64(decode)/px, mb(prepare), float64(prepare)/px, mb(scaled),
		mb(info.DecodeBytes()), float64(info.DecodeBytes())/px)
	if est := info.DecodeBytes(); est < prepare || est < scaled {
		t.Errorf("DecodeBytes %d is below what Prepare allocated (%d, %d)", est, prepare, scaled)
	}

	data = fixture(t, "3mp.avif")
	if info, err = Inspect(data); err != nil {
		t.Fatal(err)
	}
	_, _ = decodeHEIF(context.Background(), data, info) // compile the module
	decode = allocated(func() { _, _ = decodeHEIF(context.Background(), data, info) })
	prepare = allocated(func() { _, _ = Prepare(context.Background(), data, info, Options{}) })
	px = float64(info.Pixels())
	t.Logf("3 MP AVIF: decode %.0f MiB (%.1f B/px); Prepare %.0f MiB (%.1f B/px); DecodeBytes %.0f MiB (%.1f B/px)",
		mb(decode), float64(decode)/px, mb(prepare), float64(prepare)/px, mb(info.DecodeBytes()), float64(info.DecodeBytes())/px)
	if est := info.DecodeBytes(); est < prepare {
		t.Errorf("AVIF: DecodeBytes %d is below what Prepare allocated (%d)", est, prepare)
	}
}

// setISPE overwrites the size in every ispe property of data.
func setISPE(tb testing.TB, data []byte, w, h uint32) {
	n := 0
	for i := bytes.Index(data, []byte("ispe")); i >= 0; {
		binary.BigEndian.PutUint32(data[i+8:], w)
		binary.BigEndian.PutUint32(data[i+12:], h)
		n++
		j := bytes.Index(data[i+4:], []byte("ispe"))
		if j < 0 {
			break
		}
		i += 4 + j
	}
	if n == 0 {
		tb.Fatal("no ispe property")
	}
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }
