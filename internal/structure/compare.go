package structure

import (
	"math"
	"slices"
	"sort"
)

// comparison holds both images at the working size, the result laid over
// the original (warped into the original's frame, colour-normalised), and
// what the evidence finders share.
type comparison struct {
	w, h        int
	lo, lr      *plane // luma: original, aligned result
	co, cr      *rgb   // colour: original, aligned and normalised result
	valid       []bool // the aligned result has a pixel here
	gxo, gyo    *plane
	mo          *plane
	gxr, gyr    *plane
	mr          *plane
	io, ir      *integral
	fade        []float32 // per row: 1 on walls and ceiling, 0 on the floor
	t           transform
	flatO       float64 // local standard deviation below which the original is plain
	flatR       float64 // the same for the result
	minMag      float32 // gradient magnitude that can be an edge
	brightLevel float32 // luma from which a pixel can be a window
	glass       []bool  // the original's windows' bright areas (nil: none)
	wins        []box   // the boxes of the original's windows
	// trace, when set (by the tuning tests), is told each window
	// candidate's measures, from which the gates were chosen.
	trace func(format string, args ...any)
}

func (c *comparison) tracef(format string, args ...any) {
	if c.trace != nil {
		c.trace(format, args...)
	}
}

// finding is a region in the original's working frame.
type finding struct {
	kind           Kind
	x0, y0, x1, y1 float64
	score          float64
}

// fadeAt is the weight of evidence at a height: full on the upper half,
// falling to nothing at 85 % of the height. Furniture stands on the floor
// and rises from the bottom of a room photo; walls, windows and the ceiling
// line are above it.
func fadeAt(y, h int) float32 {
	f := float64(y) / float64(h)
	switch {
	case f <= 0.5:
		return 1
	case f >= 0.85:
		return 0
	}
	return float32((0.85 - f) / 0.35)
}

func newComparison(o, r *rgb) *comparison {
	w, h := o.w, o.h
	c := &comparison{w: w, h: h, fade: make([]float32, h)}
	for y := range h {
		c.fade[y] = fadeAt(y, h)
	}
	c.lo = o.luma()
	c.gxo, c.gyo, c.mo = sobel(c.lo)
	gxr0, gyr0, _ := sobel(r.luma())
	po := pyramid(c.gxo, c.gyo)
	po.markEdges(3)
	c.t, _ = align(po, pyramid(gxr0, gyr0), c.fade, alignOptions{maxScale: 0.03, maxShift: 0.025})

	// The result in the original's frame.
	warped := &rgb{w: w, h: h, r: newPlane(w, h), g: newPlane(w, h), b: newPlane(w, h)}
	c.valid = make([]bool, w*h)
	for y := range h {
		for x := range w {
			px, py := c.t.apply(float64(x), float64(y))
			i := y*w + x
			var ok bool
			if warped.r.p[i], ok = r.r.bilinear(px, py); ok {
				warped.g.p[i], _ = r.g.bilinear(px, py)
				warped.b.p[i], _ = r.b.bilinear(px, py)
				c.valid[i] = true
			} else {
				// Outside the result: the original stands in, so the
				// border of the result makes no edge of its own.
				warped.r.p[i], warped.g.p[i], warped.b.p[i] = o.r.p[i], o.g.p[i], o.b.p[i]
			}
		}
	}
	c.normaliseColour(o, warped)
	c.co, c.cr = o, warped
	c.lr = warped.luma()
	c.gxr, c.gyr, c.mr = sobel(c.lr)
	c.io, c.ir = newIntegral(c.lo), newIntegral(c.lr)
	no, nr := c.noise(c.io), c.noise(c.ir)
	c.flatO = max(2.5, 2.5*no)
	c.flatR = max(2.5, 2.5*nr)
	// Sobel/8 turns noise of standard deviation σ into magnitudes of about
	// 0.6σ; an edge must stand well clear of that.
	c.minMag = float32(max(3, 2.5*max(no, nr)))
	c.brightLevel = c.brightThreshold()
	return c
}

// normaliseColour scales each channel of the aligned result so that its
// median ratio to the original over the walls is 1: models shift white
// balance and exposure, and a colour change is not an architectural one.
func (c *comparison) normaliseColour(o, r *rgb) {
	pairs := [3][2]*plane{{o.r, r.r}, {o.g, r.g}, {o.b, r.b}}
	ratios := make([]float32, 0, c.w*c.h/16)
	for _, p := range pairs {
		ratios = ratios[:0]
		for y := 0; y < c.h; y += 3 {
			if c.fade[y] < 0.5 {
				continue
			}
			for x := 0; x < c.w; x += 3 {
				i := y*c.w + x
				a, b := p[0].p[i], p[1].p[i]
				if c.valid[i] && a > 8 && b > 8 {
					ratios = append(ratios, a/b)
				}
			}
		}
		if len(ratios) < 100 {
			continue
		}
		slices.Sort(ratios)
		g := ratios[len(ratios)/2]
		if g < 0.5 || g > 2 {
			continue // not a gain: leave it
		}
		for i := range p[1].p {
			p[1].p[i] = clamp255(p[1].p[i] * g)
		}
	}
}

// noise estimates the image noise as the median local standard deviation
// over 3×3 windows: most of a room photo is plain surface.
func (c *comparison) noise(in *integral) float64 {
	var v []float64
	for y := 2; y < c.h-2; y += 4 {
		for x := 2; x < c.w-2; x += 4 {
			_, sd := in.stats(x, y, 1)
			v = append(v, sd)
		}
	}
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// brightThreshold is the luma from which a pixel belongs to a window:
// halfway from the typical wall to the brightest part of the original.
// With no clearly brighter part, no pixel is (255+).
func (c *comparison) brightThreshold() float32 {
	var v []float32
	for y := 0; y < c.h; y += 2 {
		if c.fade[y] < 0.3 {
			continue
		}
		for x := 0; x < c.w; x += 2 {
			v = append(v, c.lo.p[y*c.w+x])
		}
	}
	if len(v) == 0 {
		return 256
	}
	slices.Sort(v)
	med, top := v[len(v)/2], v[len(v)*995/1000]
	if top-med < 25 {
		return 256
	}
	return med + 0.55*(top-med)
}

// meanColour is the mean colour of img over the square of radius rad
// around (x, y), clipped to the picture.
func (c *comparison) meanColour(img *rgb, x, y, rad int) [3]float64 {
	var m [3]float64
	n := 0
	for yy := max(0, y-rad); yy <= min(c.h-1, y+rad); yy++ {
		for xx := max(0, x-rad); xx <= min(c.w-1, x+rad); xx++ {
			i := yy*c.w + xx
			m[0] += float64(img.r.p[i])
			m[1] += float64(img.g.p[i])
			m[2] += float64(img.b.p[i])
			n++
		}
	}
	if n > 0 {
		m[0], m[1], m[2] = m[0]/float64(n), m[1]/float64(n), m[2]/float64(n)
	}
	return m
}

// sameColour says whether two colours are alike: close in brightness and
// in hue.
func sameColour(a, b [3]float64) bool {
	la, lb := (a[0]+a[1]+a[2])/3, (b[0]+b[1]+b[2])/3
	if math.Abs(la-lb) > max(10, 0.08*max(la, lb)) {
		return false
	}
	return hueNear(hue(a), hue(b))
}

// hue is a colour less its brightness.
func hue(c [3]float64) [3]float64 {
	l := (c[0] + c[1] + c[2]) / 3
	return [3]float64{c[0] - l, c[1] - l, c[2] - l}
}

// hueNear says whether two hues are alike: within 8 levels in every
// channel.
func hueNear(a, b [3]float64) bool {
	return math.Abs(a[0]-b[0]) < 8 && math.Abs(a[1]-b[1]) < 8 && math.Abs(a[2]-b[2]) < 8
}

// findRegions gathers every kind of evidence.
func (c *comparison) findRegions() []finding {
	out := c.brightRegions()
	out = append(out, c.edgeRegions()...)
	out = append(out, c.addedFrames()...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].score > out[j].score })
	return out
}

// nearWindow says whether b overlaps one of the original's windows, or
// comes within pad pixels of one (a negative pad: overlaps it by that
// much).
func (c *comparison) nearWindow(b box, pad float64) bool {
	for _, wb := range c.wins {
		if wb.overlaps(b, pad) {
			return true
		}
	}
	return false
}

// box is an axis-aligned rectangle [x0,x1)×[y0,y1) in working pixels.
type box struct{ x0, y0, x1, y1 float64 }

// emptyBox is the box that any union replaces.
func emptyBox() box { return box{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)} }

func (b box) overlaps(o box, pad float64) bool {
	return b.x0-pad < o.x1 && o.x0-pad < b.x1 && b.y0-pad < o.y1 && o.y0-pad < b.y1
}

func (b box) union(o box) box {
	return box{min(b.x0, o.x0), min(b.y0, o.y0), max(b.x1, o.x1), max(b.y1, o.y1)}
}

func clamp01(v float64) float64 { return min(1, max(0, v)) }

// evidenceScore turns an amount of evidence into a 0–1 score; scale is
// the amount that gives 0.63.
func evidenceScore(e, scale float64) float64 {
	return 1 - math.Exp(-e/scale)
}

// surround describes the ring just outside a candidate box: per side, the
// share of pixels where the result still looks like the original (the wall
// goes on around a new window; furniture goes on past its own outline), and
// the original wall's median luma there.
type surround struct {
	same     [4]float64 // top, bottom, left, right; −1 where the side is off the picture
	wallLuma float64
}

// surroundOf measures the ring 3–8 px outside b.
func (c *comparison) surroundOf(b box) surround {
	var s surround
	tol := float32(max(8, 3*c.flatR))
	x0, y0, x1, y1 := int(b.x0), int(b.y0), int(math.Ceil(b.x1)), int(math.Ceil(b.y1))
	var lum []float32
	side := func(k, ax0, ay0, ax1, ay1 int) {
		ax0, ay0, ax1, ay1 = max(0, ax0), max(0, ay0), min(c.w, ax1), min(c.h, ay1)
		var same, n int
		for y := ay0; y < ay1; y++ {
			for x := ax0; x < ax1; x++ {
				i := y*c.w + x
				if !c.valid[i] {
					continue
				}
				n++
				d := c.lr.p[i] - c.lo.p[i]
				if d < tol && d > -tol {
					same++
				}
				lum = append(lum, c.lo.p[i])
			}
		}
		if n < 4 {
			s.same[k] = -1
			return
		}
		s.same[k] = float64(same) / float64(n)
	}
	side(0, x0, y0-8, x1, y0-3)
	side(1, x0, y1+3, x1, y1+8)
	side(2, x0-8, y0, x0-3, y1)
	side(3, x1+3, y0, x1+8, y1)
	if len(lum) > 0 {
		slices.Sort(lum)
		s.wallLuma = float64(lum[len(lum)/2])
	}
	return s
}
