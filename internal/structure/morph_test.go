package structure

import (
	"image"
	"testing"
)

func TestMorph(t *testing.T) {
	w, h := 9, 7
	m := make([]bool, w*h)
	m[3*w+4] = true
	g := morph(m, w, h, 1, true)
	n := 0
	for _, v := range g {
		if v {
			n++
		}
	}
	if n != 9 || !g[2*w+3] || !g[4*w+5] {
		t.Fatalf("grow: %d set", n)
	}
	s := morph(g, w, h, 1, false)
	n = 0
	for _, v := range s {
		if v {
			n++
		}
	}
	if n != 1 || !s[3*w+4] {
		t.Fatalf("shrink: %d set", n)
	}
}

// The YCbCr fast path gives what the general path gives, within a level or
// three.
func TestResampleYCbCrMatchesGeneric(t *testing.T) {
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422} {
		m := image.NewYCbCr(image.Rect(0, 0, 333, 250), ratio)
		// Sharp luma, smooth chroma: what photos are like (the two paths
		// draw chroma bin edges a sample apart).
		for i := range m.Y {
			m.Y[i] = uint8(i * 7 % 251)
		}
		cw := m.CStride
		for i := range m.Cb {
			x, y := i%cw, i/cw
			m.Cb[i], m.Cr[i] = uint8(100+x/4), uint8(90+y/4)
		}
		fast, slow := resample(m, 120, 90), resampleGeneric(m, 120, 90)
		for i := range fast.r.p {
			for _, d := range []float32{fast.r.p[i] - slow.r.p[i], fast.g.p[i] - slow.g.p[i], fast.b.p[i] - slow.b.p[i]} {
				if d > 3 || d < -3 {
					t.Fatalf("ratio %v pixel %d: fast and general paths differ by %.1f", ratio, i, d)
				}
			}
		}
	}
}
