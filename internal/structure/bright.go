package structure

import "slices"

// component is a connected set of mask pixels.
type component struct {
	pix []int32
	b   box
}

// components labels the 4-connected components of mask with at least
// minArea pixels.
func components(mask []bool, w, h, minArea int) []component {
	seen := make([]bool, len(mask))
	var out []component
	var stack []int32
	for i, m := range mask {
		if !m || seen[i] {
			continue
		}
		seen[i] = true
		stack = append(stack[:0], int32(i))
		var pix []int32
		b := box{float64(w), float64(h), 0, 0}
		for len(stack) > 0 {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			pix = append(pix, p)
			x, y := int(p)%w, int(p)/w
			b.x0, b.y0 = min(b.x0, float64(x)), min(b.y0, float64(y))
			b.x1, b.y1 = max(b.x1, float64(x+1)), max(b.y1, float64(y+1))
			for _, q := range [4]int{int(p) - 1, int(p) + 1, int(p) - w, int(p) + w} {
				if q < 0 || q >= len(mask) || seen[q] || !mask[q] {
					continue
				}
				qx := q % w
				if qx-x > 1 || x-qx > 1 {
					continue // wrapped around a row end
				}
				seen[q] = true
				stack = append(stack, int32(q))
			}
		}
		if len(pix) >= minArea {
			out = append(out, component{pix: pix, b: b})
		}
	}
	return out
}

// morph grows (grow true: any pixel of the square set) or shrinks (all
// set) a mask over a square of radius r, separably, with running counts.
func morph(mask []bool, w, h, r int, grow bool) []bool {
	tmp, out := make([]bool, len(mask)), make([]bool, len(mask))
	pass := func(src, dst []bool, n, m, step, lineStep int) {
		for j := range m {
			base := j * lineStep
			count := 0 // set pixels in the window [i−r, i+r]
			for k := 0; k < min(n, r); k++ {
				if src[base+k*step] {
					count++
				}
			}
			for i := range n {
				if k := i + r; k < n && src[base+k*step] {
					count++
				}
				if k := i - r - 1; k >= 0 && src[base+k*step] {
					count--
				}
				size := min(n-1, i+r) - max(0, i-r) + 1
				if grow {
					dst[base+i*step] = count > 0
				} else {
					dst[base+i*step] = count == size
				}
			}
		}
	}
	pass(mask, tmp, w, h, 1, w)
	pass(tmp, out, h, w, w, 1)
	return out
}

// brightRegions compares the bright, window-like areas of both images and
// returns its findings. It keeps the boxes of the original's windows in
// c.wins (the edge evidence uses them to name what it finds) and marks
// their pixels in c.glass.
func (c *comparison) brightRegions() []finding {
	if c.brightLevel > 255 {
		return nil
	}
	w, h := c.w, c.h
	bo, br := make([]bool, w*h), make([]bool, w*h)
	for i := range bo {
		bo[i] = c.lo.p[i] >= c.brightLevel
		br[i] = c.valid[i] && c.lr.p[i] >= c.brightLevel
	}
	// Closing joins the panes of a window split by glazing bars.
	bo = morph(morph(bo, w, h, 2, true), w, h, 2, false)
	br = morph(morph(br, w, h, 2, true), w, h, 2, false)
	boWide := morph(bo, w, h, 3, true)
	brWide := morph(br, w, h, 3, true)
	minArea := max(30, w*h*3/1000)

	var out []finding
	for _, comp := range components(bo, w, h, minArea) {
		wall := c.ringColour(c.co, comp.b, bo)
		var wsum float64
		var kept, lost, lostFlat, evaluable int
		lostBox := emptyBox()
		for _, p := range comp.pix {
			if !c.valid[p] {
				continue
			}
			evaluable++
			x, y := int(p)%w, int(p)/w
			wsum += float64(c.fade[y])
			if brWide[p] {
				kept++
				continue
			}
			lost++
			// Painted over: plain, and of the wall's colour around the window.
			if _, sd := c.ir.stats(x, y, 2); sd < 1.5*c.flatR && sameColour(c.meanColour(c.cr, x, y, 1), wall) {
				lostFlat++
				lostBox = lostBox.union(box{float64(x), float64(y), float64(x), float64(y)})
			}
		}
		if evaluable < minArea/2 || tooLarge(comp.b, len(comp.pix), w, h) {
			continue // a bright ceiling or an over-exposed wall is no window
		}
		fw := wsum / float64(evaluable)
		if fw < 0.2 {
			continue // on the floor: a reflection, or hidden by furniture
		}
		c.wins = append(c.wins, comp.b)
		if c.glass == nil {
			c.glass = make([]bool, w*h)
		}
		for _, p := range comp.pix {
			c.glass[p] = true
		}
		keptFrac := float64(kept) / float64(evaluable)
		flatFrac := 0.0
		if lost > 0 {
			flatFrac = float64(lostFlat) / float64(lost)
		}
		switch {
		case lostFlat > 0 && c.hiddenBelow(lostBox):
			// The glass is behind a pale cabinet, not painted over.
		case keptFrac < 0.3 && flatFrac >= 0.5:
			out = append(out, finding{WindowRemoved, comp.b.x0, comp.b.y0, comp.b.x1, comp.b.y1,
				clamp01(fw * (0.6 + 0.4*flatFrac) * (1.3 - keptFrac))})
		case keptFrac < 0.85 && flatFrac >= 0.5 && lost >= minArea/2:
			out = append(out, finding{WindowResized, comp.b.x0, comp.b.y0, comp.b.x1, comp.b.y1,
				clamp01(fw * flatFrac * (1 - keptFrac) * 1.6)})
		}
	}
	for _, comp := range components(br, w, h, minArea) {
		var wsum float64
		var fresh, freshFlat, evaluable int
		for _, p := range comp.pix {
			evaluable++
			x, y := int(p)%w, int(p)/w
			wsum += float64(c.fade[y])
			if boWide[p] {
				continue
			}
			fresh++
			if _, sd := c.io.stats(x, y, 2); sd < 1.5*c.flatO {
				freshFlat++
			}
		}
		fw := wsum / float64(evaluable)
		if fw < 0.2 || fresh < minArea/2 || tooLarge(comp.b, len(comp.pix), w, h) {
			continue
		}
		freshFrac := float64(fresh) / float64(evaluable)
		flatFrac := float64(freshFlat) / float64(fresh)
		bw, bh := comp.b.x1-comp.b.x0, comp.b.y1-comp.b.y0
		fill := float64(len(comp.pix)) / (bw * bh)
		if c.trace != nil {
			su := c.surroundOf(comp.b)
			c.tracef("CAND bright x0=%.0f y0=%.0f x1=%.0f y1=%.0f n=%d fresh=%d fw=%.2f freshFrac=%.2f flatFrac=%.2f fill=%.2f upright=%v sT=%.2f sB=%.2f sL=%.2f sR=%.2f wall=%.0f floor=%v pole=%v",
				comp.b.x0, comp.b.y0, comp.b.x1, comp.b.y1, len(comp.pix), fresh, fw, freshFrac, flatFrac, fill, uprightSides(comp, w), su.same[0], su.same[1], su.same[2], su.same[3], su.wallLuma,
				c.onTheFloor(comp.b), c.onAPole(comp.b))
		}
		// A window is above the floor: a bright thing whose middle is in
		// the picture's lower 45 % is furniture (a white cabinet's top).
		if (comp.b.y0+comp.b.y1)/2 > 0.55*float64(h) || comp.b.y1 > 0.75*float64(h) {
			continue
		}
		if flatFrac < 0.6 {
			continue // the original had something there already
		}
		if bw < 0.03*float64(w) {
			// A window, new or grown, is at least 3 % of the picture's
			// width wide: a pale curtain's folds drawn over a window's
			// frame are bright stripes a few pixels wide.
			continue
		}
		// A window's sides are upright (a lamp shade's are not), and it
		// is a rectangle or, on a side wall, a mild trapezoid.
		shaped := fill >= 0.75 && uprightSides(comp, w)
		switch {
		case fill < 0.35 && c.onTheFloor(comp.b):
			// A white bookcase's frame standing on the floor (a new door
			// stands there too, but its leaf fills its box: 0.42 or more
			// on the tuning seeds, a bookcase 0.24).
		case c.onAPole(comp.b):
			// A floor lamp's shade: bright, upright, on plain wall, but
			// its pole goes down from its middle.
		case freshFrac > 0.8 && bh >= 0.08*float64(h) && shaped:
			// A window is at least 8 % of the picture's height (a lamp
			// shade, small, bright and upright, is less).
			out = append(out, finding{WindowAdded, comp.b.x0, comp.b.y0, comp.b.x1, comp.b.y1,
				clamp01(fw * flatFrac * (0.4 + 0.6*fill))})
		case freshFrac > 0.8 && bh >= 0.14*float64(h) && fill >= 0.2 && c.wallAround(comp.b):
			// Glazing bars, a view of trees or buildings, or a sill make a
			// new window's bright area ragged; it is still one when the
			// wall goes on unchanged above and beside it, which a bright
			// piece of furniture (it goes on down to the floor, or stands
			// in front of other things) or a lamp (its cord, its pole)
			// does not give. Ragged bright things smaller than 14 % of the
			// picture's height, or filling less than a fifth of their box
			// (a white bookcase's frame, a floor lamp), were furniture on
			// the tuning seeds; new windows filled 0.21 or more.
			out = append(out, finding{WindowAdded, comp.b.x0, comp.b.y0, comp.b.x1, comp.b.y1,
				clamp01(fw * flatFrac * max(0.85, 0.4+0.6*fill))})
		case !shaped:
			// Ragged and not on plain wall all round: no finding.
		case freshFrac <= 0.8 && freshFrac >= 0.15:
			// Glass that grew past the old.
			out = append(out, finding{WindowResized, comp.b.x0, comp.b.y0, comp.b.x1, comp.b.y1,
				clamp01(fw * flatFrac * freshFrac * 1.6)})
		}
	}
	return out
}

// onAPole says whether something narrow and new stands under the middle
// of b: in most rows of the 12 % of the picture's height below it, the
// result differs from the original, within the middle half of b's width,
// in exactly one run of 2 px to 40 % of b's width, with unchanged
// pixels either side. A new window has wall, a sill or other panes below
// its middle, not a floor lamp's pole.
func (c *comparison) onAPole(b box) bool {
	mid0, mid1 := int(b.x0+0.25*(b.x1-b.x0)), int(b.x1-0.25*(b.x1-b.x0))
	widest := max(2, int(0.4*(b.x1-b.x0)))
	y0 := int(b.y1) + 2
	y1 := y0 + int(0.12*float64(c.h))
	if mid0 < 1 || mid1 >= c.w-1 || y1 >= c.h {
		return false
	}
	poled := 0
	for y := y0; y < y1; y++ {
		runs, width := 0, 0
		inside := true // the changed pixels stay off the middle half's bounds
		prev := true   // the pixel before mid0 counts as unchanged
		for x := mid0; x <= mid1; x++ {
			if !c.valid[y*c.w+x] {
				return false
			}
			same := sameColour(c.meanColour(c.cr, x, y, 0), c.meanColour(c.co, x, y, 0))
			if !same {
				if prev {
					runs++
				}
				width++
				inside = inside && x != mid0 && x != mid1
			}
			prev = same
		}
		if inside && runs == 1 && width >= 2 && width <= widest {
			poled++
		}
	}
	return poled*4 >= (y1-y0)*3
}

// onTheFloor says whether b's bottom is the wall's foot in the original:
// a level edge there across most of b's width (within a few pixels of its
// bottom). A window's sill is above the floor; a bookcase stands on it.
func (c *comparison) onTheFloor(b box) bool {
	need := float32(c.minMag)
	hit, total := 0, 0
	for x := int(b.x0) + 1; x < int(b.x1); x += 2 {
		total++
		for y := int(b.y1) - 2; y <= int(b.y1)+4; y++ {
			if g, ok := across(c.gxo, c.gyo, c, float64(x), float64(y), 0, 1, 0); ok && g >= need {
				hit++
				break
			}
		}
	}
	return total > 0 && hit*10 >= total*6
}

// wallAround says whether the result still looks like the original just
// above and beside b (sides off the picture do not count): the wall goes on
// around a new window.
func (c *comparison) wallAround(b box) bool {
	su := c.surroundOf(b)
	top, left, right := su.same[0], su.same[2], su.same[3]
	return (top < 0 || top >= 0.8) && (left < 0 || left >= 0.6) && (right < 0 || right >= 0.6)
}

// ringColour is the median colour of the pixels just outside b that are not
// in mask: the wall around a window.
func (c *comparison) ringColour(img *rgb, b box, mask []bool) [3]float64 {
	var rs, gs, bs []float32
	x0, y0 := max(0, int(b.x0)-6), max(0, int(b.y0)-6)
	x1, y1 := min(c.w, int(b.x1)+6), min(c.h, int(b.y1)+6)
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			if float64(x) >= b.x0-2 && float64(x) < b.x1+2 && float64(y) >= b.y0-2 && float64(y) < b.y1+2 {
				continue
			}
			i := y*c.w + x
			if mask[i] {
				continue
			}
			rs, gs, bs = append(rs, img.r.p[i]), append(gs, img.g.p[i]), append(bs, img.b.p[i])
		}
	}
	if len(rs) == 0 {
		return [3]float64{}
	}
	slices.Sort(rs)
	slices.Sort(gs)
	slices.Sort(bs)
	return [3]float64{float64(rs[len(rs)/2]), float64(gs[len(gs)/2]), float64(bs[len(bs)/2])}
}

// tooLarge says a bright area is too big for a window: a bright ceiling, an
// over-exposed wall.
func tooLarge(b box, area, w, h int) bool {
	return b.x1-b.x0 > 0.5*float64(w) || float64(area) > 0.12*float64(w*h)
}

// uprightSides says whether a component's left and right borders are
// upright lines: the per-row extremes over the middle rows vary by a
// couple of pixels at most.
func uprightSides(comp component, w int) bool {
	y0, y1 := int(comp.b.y0), int(comp.b.y1)
	n := y1 - y0
	if n < 5 {
		return false
	}
	left := make([]float32, n)
	right := make([]float32, n)
	for i := range left {
		left[i], right[i] = float32(w), -1
	}
	for _, p := range comp.pix {
		x, y := float32(int(p)%w), int(p)/w-y0
		left[y] = min(left[y], x)
		right[y] = max(right[y], x)
	}
	lo, hi := n/10, n-n/10
	spread := func(v []float32) float32 {
		s := slices.Clone(v[lo:hi])
		slices.Sort(s)
		return s[len(s)*9/10] - s[len(s)/10]
	}
	lim := float32(max(2.0, 0.04*(comp.b.x1-comp.b.x0)))
	return spread(left) <= lim && spread(right) <= lim
}
