package disclosure

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

// scene is a w×h picture with a gradient, so changed pixels show.
func scene(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetRGBA(x, y, color.RGBA{uint8(100 + x*100/w), uint8(120 + y*80/h), 140, 255})
		}
	}
	return m
}

func encodePNG(t *testing.T, m image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func decode(t *testing.T, data []byte) (image.Image, string) {
	m, f, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return m, f
}

func luma(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	return (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(b)) / 257
}

// labelBox finds the rectangle of pixels that differ between a and b.
func labelBox(a, b image.Image, tol float64) image.Rectangle {
	var box image.Rectangle
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if d := luma(a.At(x, y)) - luma(b.At(x, y)); d > tol || d < -tol {
				box = box.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	return box
}

func TestApplyPNG(t *testing.T) {
	src := scene(800, 600)
	cfg := Config{Mode: Optional, Text: DefaultText, Position: BottomRight}
	out, ct, err := cfg.Apply(context.Background(), encodePNG(t, src))
	if err != nil {
		t.Fatal(err)
	}
	got, format := decode(t, out)
	if ct != "image/png" || format != "png" || got.Bounds() != src.Bounds() {
		t.Fatalf("got %s (%s) %v, want a PNG of %v", ct, format, got.Bounds(), src.Bounds())
	}
	box := labelBox(src, got, 0)
	if box.Empty() {
		t.Fatal("nothing was drawn")
	}
	// In the bottom-right corner, small, away from the edges.
	if box.Min.X < 800/2 || box.Min.Y < 600*3/4 || box.Max.X >= 800 || box.Max.Y >= 600 {
		t.Errorf("label at %v, want inside the bottom-right corner with a margin", box)
	}
	if area := box.Dx() * box.Dy(); area > 800*600/20 {
		t.Errorf("label covers %d px², more than 5 %% of the picture", area)
	}
	// Every pixel outside the label is byte for byte the source's.
	for y := range 600 {
		for x := range 800 {
			if image.Pt(x, y).In(box) {
				continue
			}
			if got.At(x, y) != color.Color(src.RGBAAt(x, y)) {
				gr, gg, gb, ga := got.At(x, y).RGBA()
				sr, sg, sb, sa := src.RGBAAt(x, y).RGBA()
				if gr != sr || gg != sg || gb != sb || ga != sa {
					t.Fatalf("pixel (%d,%d) outside the label changed", x, y)
				}
			}
		}
	}
	// Legible: light text on a dark box.
	var light, dark float64 = 0, 255
	for y := box.Min.Y; y < box.Max.Y; y++ {
		for x := box.Min.X; x < box.Max.X; x++ {
			l := luma(got.At(x, y))
			light, dark = max(light, l), min(dark, l)
		}
	}
	if light < 200 || dark > 90 {
		t.Errorf("text %.0f on box %.0f: not legible", light, dark)
	}
}

func TestApplyJPEGAndCorners(t *testing.T) {
	src := scene(640, 480)
	var in bytes.Buffer
	if err := jpeg.Encode(&in, src, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	orig, _ := decode(t, in.Bytes())
	for _, pos := range []Position{BottomRight, BottomLeft, TopRight, TopLeft} {
		cfg := Config{Text: "Virtually staged", Position: pos}
		out, ct, err := cfg.Apply(context.Background(), in.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		got, format := decode(t, out)
		if ct != "image/jpeg" || format != "jpeg" || got.Bounds() != src.Bounds() {
			t.Fatalf("%s: got %s %v", pos, ct, got.Bounds())
		}
		box := labelBox(orig, got, 40)
		cx, cy := (box.Min.X+box.Max.X)/2, (box.Min.Y+box.Max.Y)/2
		left, top := cx < 320, cy < 240
		if left != (pos == BottomLeft || pos == TopLeft) || top != (pos == TopRight || pos == TopLeft) {
			t.Errorf("%s: label at %v", pos, box)
		}
		// The centre is the photo, within JPEG re-encoding noise.
		for y := 200; y < 280; y++ {
			for x := 280; x < 360; x++ {
				if d := luma(got.At(x, y)) - luma(orig.At(x, y)); d > 6 || d < -6 {
					t.Fatalf("%s: centre pixel (%d,%d) changed by %.0f", pos, x, y, d)
				}
			}
		}
	}
}

func TestWant(t *testing.T) {
	for _, c := range []struct {
		mode  Mode
		asked bool
		want  bool
		err   bool
	}{
		{Off, false, false, false}, {Off, true, false, true},
		{Optional, false, false, false}, {Optional, true, true, false},
		{Always, false, true, false}, {Always, true, true, false},
	} {
		got, err := Config{Mode: c.mode}.Want(c.asked)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("%s Want(%v) = %v, %v", c.mode, c.asked, got, err)
		}
		if c.mode == Off && c.asked && !errors.Is(err, ErrRefused) {
			t.Errorf("off refuses with %v, want ErrRefused", err)
		}
	}
}

func TestCheckText(t *testing.T) {
	for s, ok := range map[string]bool{
		"Virtually staged": true, "Virtuell eingerichtet": true, "Home staging virtuel — retouché": true,
		"": false, "   ": false, "a\nb": false, string(bytes.Repeat([]byte("x"), 61)): false, "虚拟布置": false,
	} {
		if err := CheckText(s); (err == nil) != ok {
			t.Errorf("CheckText(%q) = %v", s, err)
		}
	}
}
