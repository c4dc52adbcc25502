package structure

import (
	"image"
	"math"
)

// plane is one float channel at the working size, row-major, values on the
// 0–255 scale of 8-bit images.
type plane struct {
	w, h int
	p    []float32
}

func newPlane(w, h int) *plane { return &plane{w: w, h: h, p: make([]float32, w*h)} }

// fixed is the plane in 8.8 fixed point (values are 0–255).
func (a *plane) fixed() []uint16 {
	out := make([]uint16, len(a.p))
	for i, v := range a.p {
		out[i] = uint16(min(65535, max(0, v*256+0.5)))
	}
	return out
}

// planeOf is the plane of 8.8 fixed-point samples.
func planeOf(s []uint16, w, h int) *plane {
	a := newPlane(w, h)
	for i, v := range s {
		a.p[i] = float32(v) / 256
	}
	return a
}

func (a *plane) at(x, y int) float32 { return a.p[y*a.w+x] }

// bilinear samples a at a real position; ok is false outside the plane.
func (a *plane) bilinear(x, y float64) (float32, bool) {
	if x < 0 || y < 0 || x > float64(a.w-1) || y > float64(a.h-1) {
		return 0, false
	}
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, a.w-1), min(y0+1, a.h-1)
	fx, fy := float32(x-float64(x0)), float32(y-float64(y0))
	return a.lerp(y0*a.w+x0, x1-x0, (y1-y0)*a.w, fx, fy), true
}

// lerp blends pixel j with its neighbour dx to the right, dy below and
// both, by the fractions fx and fy: bilinear's step once the weights are
// known.
func (a *plane) lerp(j, dx, dy int, fx, fy float32) float32 {
	r0 := a.p[j]*(1-fx) + a.p[j+dx]*fx
	r1 := a.p[j+dy]*(1-fx) + a.p[j+dy+dx]*fx
	return r0*(1-fy) + r1*fy
}

// rgb is an image at the working size.
type rgb struct {
	w, h    int
	r, g, b *plane
}

func (c *rgb) luma() *plane {
	l := newPlane(c.w, c.h)
	for i := range l.p {
		l.p[i] = 0.299*c.r.p[i] + 0.587*c.g.p[i] + 0.114*c.b.p[i]
	}
	return l
}

// workingSize is the size both images are compared at: the original's
// aspect ratio with its longest side at most side (never enlarged).
func workingSize(b image.Rectangle, side int) (int, int) {
	w, h := b.Dx(), b.Dy()
	if w >= h && w > side {
		return side, max(1, int(math.Round(float64(h)*float64(side)/float64(w))))
	}
	if h > w && h > side {
		return max(1, int(math.Round(float64(w)*float64(side)/float64(h)))), side
	}
	return w, h
}

// resample reduces img to w×h by averaging the source pixels that fall in
// each target pixel (a box filter: the working size is far below a photo's,
// and averaging is what removes sensor noise). A target pixel smaller than a
// source pixel takes the nearest one. The common decoded types are read
// directly: going through image.Image.At for 12 million pixels costs more
// than the whole check.
func resample(img image.Image, w, h int) *rgb {
	b := img.Bounds()
	if m, ok := img.(*image.YCbCr); ok && b.Dx() >= w && b.Dy() >= h {
		return resampleYCbCr(m, w, h)
	}
	return resampleGeneric(img, w, h)
}

// resampleGeneric is resample for any image, row by row.
func resampleGeneric(img image.Image, w, h int) *rgb {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	out := &rgb{w: w, h: h, r: newPlane(w, h), g: newPlane(w, h), b: newPlane(w, h)}
	// bin[x] is the target column of source column x; cnt counts the source
	// pixels of each target pixel.
	colOf := make([]int32, sw)
	for x := range sw {
		colOf[x] = int32(min(w-1, x*w/sw))
	}
	cnt := make([]float32, w*h)
	r0, r1, r2 := make([]float32, sw), make([]float32, sw), make([]float32, sw)
	ycc := false
	var row func(y int)
	switch m := img.(type) {
	case *image.YCbCr:
		ycc = true
		row = func(y int) {
			yi := (y - m.Rect.Min.Y) * m.YStride
			for x := range sw {
				r0[x] = float32(m.Y[yi+x])
				ci := m.COffset(b.Min.X+x, b.Min.Y+y)
				r1[x], r2[x] = float32(m.Cb[ci]), float32(m.Cr[ci])
			}
		}
	case *image.RGBA:
		row = func(y int) {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			for x := range sw {
				r0[x], r1[x], r2[x] = float32(m.Pix[i]), float32(m.Pix[i+1]), float32(m.Pix[i+2])
				i += 4
			}
		}
	case *image.NRGBA:
		row = func(y int) {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			for x := range sw {
				// Transparent parts are composed on black, as a browser on
				// a dark page would show them; rooms are opaque anyway.
				a := float32(m.Pix[i+3]) / 255
				r0[x], r1[x], r2[x] = float32(m.Pix[i])*a, float32(m.Pix[i+1])*a, float32(m.Pix[i+2])*a
				i += 4
			}
		}
	case *image.Gray:
		row = func(y int) {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			for x := range sw {
				v := float32(m.Pix[i+x])
				r0[x], r1[x], r2[x] = v, v, v
			}
		}
	default:
		row = func(y int) {
			for x := range sw {
				cr, cg, cb, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
				r0[x], r1[x], r2[x] = float32(cr>>8), float32(cg>>8), float32(cb>>8)
			}
		}
	}
	if sw >= w && sh >= h {
		for y := range sh {
			row(y)
			ty := min(h-1, y*h/sh)
			base := ty * w
			for x := range sw {
				j := base + int(colOf[x])
				out.r.p[j] += r0[x]
				out.g.p[j] += r1[x]
				out.b.p[j] += r2[x]
				cnt[j]++
			}
		}
		for j := range cnt {
			if c := cnt[j]; c > 0 {
				out.r.p[j] /= c
				out.g.p[j] /= c
				out.b.p[j] /= c
			}
		}
	} else {
		// Enlarging (a result smaller than the working size): nearest source
		// pixel, row by row.
		lastY := -1
		for ty := range h {
			sy := min(sh-1, ty*sh/h)
			if sy != lastY {
				row(sy)
				lastY = sy
			}
			for tx := range w {
				sx := min(sw-1, tx*sw/w)
				j := ty*w + tx
				out.r.p[j], out.g.p[j], out.b.p[j] = r0[sx], r1[sx], r2[sx]
			}
		}
	}
	if ycc {
		out.yccToRGB()
	}
	return out
}

// yccToRGB turns planes holding averaged Y, Cb and Cr into R, G and B in
// place (the conversion is linear, so converting the averages equals
// averaging the converted pixels).
func (m *rgb) yccToRGB() {
	for j := range m.r.p {
		yy, cb, cr := m.r.p[j], m.g.p[j]-128, m.b.p[j]-128
		m.r.p[j] = clamp255(yy + 1.402*cr)
		m.g.p[j] = clamp255(yy - 0.344136*cb - 0.714136*cr)
		m.b.p[j] = clamp255(yy + 1.772*cb)
	}
}

func clamp255(v float32) float32 {
	return min(255, max(0, v))
}

// sobel returns the horizontal and vertical derivatives of l (Sobel kernels
// divided by 8, so a ramp of slope 1 gives 1) and the gradient magnitude.
// Border pixels get zero.
func sobel(l *plane) (gx, gy, mag *plane) {
	w, h := l.w, l.h
	gx, gy, mag = newPlane(w, h), newPlane(w, h), newPlane(w, h)
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			i := y*w + x
			a, b, c := l.p[i-w-1], l.p[i-w], l.p[i-w+1]
			d, f := l.p[i-1], l.p[i+1]
			g, hh, k := l.p[i+w-1], l.p[i+w], l.p[i+w+1]
			dx := ((c + 2*f + k) - (a + 2*d + g)) / 8
			dy := ((g + 2*hh + k) - (a + 2*b + c)) / 8
			gx.p[i], gy.p[i] = dx, dy
			mag.p[i] = float32(math.Sqrt(float64(dx*dx + dy*dy)))
		}
	}
	return gx, gy, mag
}

// half averages 2×2 blocks.
func half(a *plane) *plane {
	w, h := a.w/2, a.h/2
	o := newPlane(w, h)
	for y := range h {
		for x := range w {
			i := 2*y*a.w + 2*x
			o.p[y*w+x] = (a.p[i] + a.p[i+1] + a.p[i+a.w] + a.p[i+a.w+1]) / 4
		}
	}
	return o
}

// boxBlur3 is a 3×3 mean (borders clamp).
func boxBlur3(a *plane) *plane {
	w, h := a.w, a.h
	t, o := newPlane(w, h), newPlane(w, h)
	for y := range h {
		for x := range w {
			t.p[y*w+x] = (a.p[y*w+max(0, x-1)] + a.p[y*w+x] + a.p[y*w+min(w-1, x+1)]) / 3
		}
	}
	for y := range h {
		for x := range w {
			o.p[y*w+x] = (t.p[max(0, y-1)*w+x] + t.p[y*w+x] + t.p[min(h-1, y+1)*w+x]) / 3
		}
	}
	return o
}

// integral holds summed-area tables of a plane and its square, for local
// means and standard deviations in constant time.
type integral struct {
	w, h   int
	s, s2  []float64
	stride int
}

func newIntegral(a *plane) *integral {
	st := a.w + 1
	in := &integral{w: a.w, h: a.h, s: make([]float64, st*(a.h+1)), s2: make([]float64, st*(a.h+1)), stride: st}
	for y := range a.h {
		var rs, rs2 float64
		for x := range a.w {
			v := float64(a.p[y*a.w+x])
			rs += v
			rs2 += v * v
			in.s[(y+1)*st+x+1] = in.s[y*st+x+1] + rs
			in.s2[(y+1)*st+x+1] = in.s2[y*st+x+1] + rs2
		}
	}
	return in
}

// stats returns the mean and standard deviation over the square of radius r
// around (x, y), clipped to the plane.
func (in *integral) stats(x, y, r int) (mean, sd float64) {
	x0, y0 := max(0, x-r), max(0, y-r)
	x1, y1 := min(in.w, x+r+1), min(in.h, y+r+1)
	return in.rect(x0, y0, x1, y1)
}

// rect returns mean and standard deviation over [x0,x1)×[y0,y1).
func (in *integral) rect(x0, y0, x1, y1 int) (mean, sd float64) {
	n := float64((x1 - x0) * (y1 - y0))
	if n <= 0 {
		return 0, 0
	}
	st := in.stride
	s := in.s[y1*st+x1] - in.s[y0*st+x1] - in.s[y1*st+x0] + in.s[y0*st+x0]
	s2 := in.s2[y1*st+x1] - in.s2[y0*st+x1] - in.s2[y1*st+x0] + in.s2[y0*st+x0]
	mean = s / n
	v := s2/n - mean*mean
	if v < 0 {
		v = 0
	}
	return mean, math.Sqrt(v)
}

// resampleYCbCr is resample for a decoded JPEG, the common case: each plane
// is averaged at its own resolution (chroma is usually stored at half), so
// every stored sample is read once, and Y, Cb and Cr are converted to RGB
// once per target pixel (the conversion is linear: converting averages
// equals averaging conversions).
func resampleYCbCr(m *image.YCbCr, w, h int) *rgb {
	b := m.Rect
	sw, sh := b.Dx(), b.Dy()
	out := &rgb{w: w, h: h, r: newPlane(w, h), g: newPlane(w, h), b: newPlane(w, h)}
	// box averages plane p (pw×ph samples, stride, covering the image)
	// into dst. Source column x goes to target column x·w/pw, so each
	// target column takes a run of whole source columns, and each target
	// row a run of whole source rows: a row's runs are summed as integers
	// (exact, and the hot loop of a 12 MP photo is then a byte sum), and
	// a target pixel's count is its columns times its rows.
	box := func(p []uint8, stride, pw, ph int, dst *plane) {
		colEnd := make([]int, w) // source columns [colEnd[xo-1], colEnd[xo]) go to xo
		for xo := range w {
			colEnd[xo] = min(pw, ((xo+1)*pw+w-1)/w)
		}
		rows := make([]int32, h)
		for y := range ph {
			yo := min(h-1, y*h/ph)
			rows[yo]++
			row, drow := p[y*stride:y*stride+pw], dst.p[yo*w:(yo+1)*w]
			x := 0
			for xo, end := range colEnd {
				var sum uint32
				for _, v := range row[x:end] {
					sum += uint32(v)
				}
				drow[xo] += float32(sum)
				x = end
			}
		}
		x := 0
		for xo, end := range colEnd {
			for yo := range h {
				if n := int32(end-x) * rows[yo]; n > 0 {
					dst.p[yo*w+xo] /= float32(n)
				}
			}
			x = end
		}
	}
	box(m.Y[m.YOffset(b.Min.X, b.Min.Y):], m.YStride, sw, sh, out.r)
	// The chroma planes' size for the subsampling ratio.
	cw, ch := sw, sh
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
		cw = (sw + 1) / 2
	case image.YCbCrSubsampleRatio420:
		cw, ch = (sw+1)/2, (sh+1)/2
	case image.YCbCrSubsampleRatio440:
		ch = (sh + 1) / 2
	case image.YCbCrSubsampleRatio411:
		cw = (sw + 3) / 4
	case image.YCbCrSubsampleRatio410:
		cw, ch = (sw+3)/4, (sh+1)/2
	}
	co := m.COffset(b.Min.X, b.Min.Y)
	if cw < w || ch < h {
		// Chroma coarser than the working size (a tiny image): the
		// general path handles it.
		return resampleGeneric(m, w, h)
	}
	box(m.Cb[co:], m.CStride, cw, ch, out.g)
	box(m.Cr[co:], m.CStride, cw, ch, out.b)
	out.yccToRGB()
	return out
}
