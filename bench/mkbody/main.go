// Command mkbody writes a multipart/form-data body holding one photo-like
// JPEG under the field "image" (as the web client sends it; -field images for
// the Python backend, which accepts only that name), for load generators
// that replay a body file (hey -D). It prints the Content-Type.
//
//	go run ./bench/mkbody -mp 1.5 -o /tmp/body.bin
//	go run ./bench/mkbody -bytes 8000000 -field images -o /tmp/body.bin
package main

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"mime/multipart"
	"net/textproto"
	"os"
)

func main() {
	mp := flag.Float64("mp", 1.5, "megapixels of the photo (4:3)")
	quality := flag.Int("q", 92, "JPEG quality")
	out := flag.String("o", "body.bin", "output file")
	boundary := flag.String("boundary", "frameforgebench", "multipart boundary")
	field := flag.String("field", "image", "form field of the file")
	size := flag.Int("bytes", 0, "aim for a JPEG of about this many bytes (overrides -mp)")
	flag.Parse()

	encode := func(mp float64) (bytes.Buffer, int, int) {
		h := int(math.Sqrt(mp * 1e6 * 3 / 4))
		w := h * 4 / 3
		var img bytes.Buffer
		if err := jpeg.Encode(&img, photo(w, h), &jpeg.Options{Quality: *quality}); err != nil {
			fail(err)
		}
		return img, w, h
	}
	img, w, h := encode(*mp)
	if *size > 0 {
		// The size grows about linearly with the pixel count: two
		// corrections land within a few per cent.
		for range 2 {
			*mp *= float64(*size) / float64(img.Len())
			img, w, h = encode(*mp)
		}
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if err := mw.SetBoundary(*boundary); err != nil {
		fail(err)
	}
	// The part says image/jpeg, as a browser's upload of a .jpg does (the
	// Python backend refuses a file whose part does not say image/*).
	ph := textproto.MIMEHeader{}
	ph.Set("Content-Disposition", `form-data; name="`+*field+`"; filename="room.jpg"`)
	ph.Set("Content-Type", "image/jpeg")
	fw, _ := mw.CreatePart(ph)
	fw.Write(img.Bytes())
	mw.WriteField("prompt", "Stage this room as a Scandinavian living room.")
	mw.Close()
	if err := os.WriteFile(*out, body.Bytes(), 0o644); err != nil {
		fail(err)
	}
	fmt.Fprintf(os.Stderr, "wrote %s: %dx%d JPEG of %d bytes, body %d bytes\n", *out, w, h, img.Len(), body.Len())
	fmt.Println(mw.FormDataContentType())
}

// photo is a smooth gradient with deterministic noise: it compresses like a
// real photo, so the file size is realistic for its pixel count.
func photo(w, h int) image.Image {
	m := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	seed := uint32(2463534242)
	next := func() uint32 {
		seed ^= seed << 13
		seed ^= seed >> 17
		seed ^= seed << 5
		return seed
	}
	for y := range h {
		for x := range w {
			m.Y[y*m.YStride+x] = uint8(min(255, max(0, 24+x*160/w+y*64/h+int(next()%40)-20)))
		}
	}
	for i := range m.Cb {
		m.Cb[i] = uint8(100 + next()%10)
		m.Cr[i] = uint8(150 + next()%10)
	}
	return m
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "mkbody:", err)
	os.Exit(1)
}
