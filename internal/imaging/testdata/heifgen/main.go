// Command heifgen writes the HEIC and AVIF fixtures in internal/imaging/testdata
// with real encoders: Debian's heif-enc (libheif-examples) and avifenc
// (libavif-bin). The tests read the committed files and never run this.
//
//	go run ./internal/imaging/testdata/heifgen   # from the module root
//
// The pictures are the tests' "quadrants": red top-left, blue top-right,
// white below, so any turn or mirror shows.
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"log"
	"os"
	"os/exec"
	"path/filepath"
)

const dir = "internal/imaging/testdata"

func main() {
	tmp, err := os.MkdirTemp("", "heifgen")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	src := func(name string, data []byte) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			log.Fatal(err)
		}
		return p
	}
	out := func(name string) string { return filepath.Join(dir, name) }
	quad := src("quadrants.png", pngOf(quadrants(64, 48)))
	other := src("other.png", pngOf(flat(32, 32, color.RGBA{0, 160, 0, 255})))
	exif6 := src("exif6.jpg", withExifOrientation(jpegOf(quadrants(64, 48)), 6))
	big := src("big.png", pngOf(gradient(4032, 3024)))
	mid := src("mid.png", pngOf(gradient(2016, 1512)))

	run("heif-enc", "-q", "80", "-o", out("quadrants.heic"), quad)
	// Orientation only in Exif, as some encoders write it (heif-enc copies
	// the JPEG's Exif block into an Exif item).
	run("heif-enc", "-q", "80", "-o", out("exif6.heic"), exif6)
	// Two images; the first is the primary one.
	run("heif-enc", "-q", "80", "-o", out("multi.heic"), quad, other)
	// A 12 MP phone-sized picture for the decode-memory measurement.
	run("heif-enc", "-q", "30", "-o", out("12mp.heic"), big)
	// Rotated in the container, as iPhones do: heif-enc 1.15 cannot write
	// irot, so the property is added to its output (irot 1: a quarter turn
	// counter-clockwise).
	plain, err := os.ReadFile(out("quadrants.heic"))
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(out("irot1.heic"), addIrot(plain, 1), 0o644); err != nil {
		log.Fatal(err)
	}
	run("avifenc", "-s", "10", quad, out("quadrants.avif"))
	run("avifenc", "-s", "10", "--irot", "1", quad, out("irot1.avif"))
	run("avifenc", "-s", "10", "--irot", "3", "--imir", "1", quad, out("irot3-imir1.avif"))
	// A 3 MP picture for the AVIF decode-memory measurement.
	run("avifenc", "-s", "10", "--min", "50", "--max", "63", mid, out("3mp.avif"))
}

func run(name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		log.Fatalf("%s %v: %v", name, args, err)
	}
}

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

func flat(w, h int, c color.RGBA) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(m.Pix); i += 4 {
		m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return m
}

func gradient(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			i := m.PixOffset(x, y)
			m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = uint8(x*255/w), uint8(y*255/h), uint8((x+y)/16), 255
		}
	}
	return m
}

func pngOf(m image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		log.Fatal(err)
	}
	return b.Bytes()
}

func jpegOf(m image.Image) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 95}); err != nil {
		log.Fatal(err)
	}
	return b.Bytes()
}

// withExifOrientation inserts an APP1 Exif segment with one Orientation tag.
func withExifOrientation(j []byte, o uint16) []byte {
	tiff := []byte{'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, byte(o), 0, 0, 0, 0, 0, 0, 0}
	p := append([]byte("Exif\x00\x00"), tiff...)
	seg := append([]byte{0xFF, 0xE1, byte((len(p) + 2) >> 8), byte(len(p) + 2)}, p...)
	return append(append(append([]byte{}, j[:2]...), seg...), j[2:]...)
}

// addIrot adds an irot property to the primary item of a heif-enc output:
// appended to ipco, associated in ipma, the enclosing sizes and every iloc
// offset (the data follows meta) moved by the bytes inserted. It handles the
// layout heif-enc writes (ftyp, meta, mdat; 32-bit sizes, iloc version 0 or 1
// with 4-byte offsets) and fails on anything else.
func addIrot(f []byte, angle byte) []byte {
	type box struct{ start, end int }
	find := func(from, to int, typ string) box {
		for p := from; p+8 <= to; {
			n := int(binary.BigEndian.Uint32(f[p:]))
			if string(f[p+4:p+8]) == typ {
				return box{p, p + n}
			}
			p += n
		}
		log.Fatalf("addIrot: no %s box", typ)
		return box{}
	}
	ftyp := find(0, len(f), "ftyp")
	meta := find(ftyp.end, len(f), "meta")
	iprp := find(meta.start+12, meta.end, "iprp")
	ipco := find(iprp.start+8, iprp.end, "ipco")
	ipma := find(iprp.start+8, iprp.end, "ipma")
	iloc := find(meta.start+12, meta.end, "iloc")
	pitm := find(meta.start+12, meta.end, "pitm")
	primary := binary.BigEndian.Uint16(f[pitm.start+12:])
	props := 0
	for p := ipco.start + 8; p < ipco.end; p += int(binary.BigEndian.Uint32(f[p:])) {
		props++
	}
	irot := []byte{0, 0, 0, 9, 'i', 'r', 'o', 't', angle & 3}
	const grow = 9 + 1 // the property and one association byte

	// iloc offsets first, in place, before anything moves.
	v := f[iloc.start+8]
	sizes := binary.BigEndian.Uint16(f[iloc.start+12:])
	baseSize := int(sizes >> 4 & 15)
	if sizes>>12 != 4 || sizes>>8&15 != 4 || (baseSize != 0 && baseSize != 4) || v > 1 {
		log.Fatalf("addIrot: iloc layout %x v%d not handled", sizes, v)
	}
	add := func(pos int) { binary.BigEndian.PutUint32(f[pos:], binary.BigEndian.Uint32(f[pos:])+grow) }
	p := iloc.start + 14
	count := int(binary.BigEndian.Uint16(f[p:]))
	p += 2
	for range count {
		p += 2 // item id
		method := 0
		if v == 1 {
			method = int(binary.BigEndian.Uint16(f[p:]) & 15)
			p += 2
		}
		p += 2 // data reference index
		base := p
		p += baseSize
		ext := int(binary.BigEndian.Uint16(f[p:]))
		p += 2
		if method == 0 && baseSize == 4 {
			add(base)
		}
		for range ext {
			if method == 0 && baseSize == 0 {
				add(p)
			}
			p += 8
		}
	}
	// ipma: find the primary's entry and add an association (1-byte form).
	if f[ipma.start+11]&1 != 0 || f[ipma.start+8] != 0 {
		log.Fatal("addIrot: ipma layout not handled")
	}
	q := ipma.start + 16
	entries := int(binary.BigEndian.Uint32(f[ipma.start+12:]))
	at := -1
	for range entries {
		id := binary.BigEndian.Uint16(f[q:])
		n := int(f[q+2])
		if id == primary {
			f[q+2]++
			at = q + 3 + n
		}
		q += 3 + n
	}
	if at < 0 {
		log.Fatal("addIrot: primary has no ipma entry")
	}
	var out []byte
	out = append(out, f[:ipco.end]...)
	out = append(out, irot...)
	out = append(out, f[ipco.end:at]...)
	out = append(out, byte(0x80|(props+1))) // essential
	out = append(out, f[at:]...)
	bump := func(pos, by int) {
		binary.BigEndian.PutUint32(out[pos:], binary.BigEndian.Uint32(out[pos:])+uint32(by))
	}
	bump(meta.start, grow)
	bump(iprp.start, grow)
	bump(ipco.start, 9)
	ipmaStart := ipma.start
	if ipma.start > ipco.start {
		ipmaStart += 9
	}
	bump(ipmaStart, 1)
	fmt.Fprintf(os.Stderr, "irot %d added to item %d\n", angle, primary)
	return out
}
