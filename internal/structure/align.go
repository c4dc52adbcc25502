package structure

import "math"

// transform maps a position q in the original (working size) to the
// result: p = c + s·(q − c) + t, c the centre. Image models re-frame by a
// few per cent at most; a zoom about the centre plus a shift covers it.
type transform struct {
	s, tx, ty float64
	cx, cy    float64
}

func (t transform) apply(x, y float64) (float64, float64) {
	return t.cx + t.s*(x-t.cx) + t.tx, t.cy + t.s*(y-t.cy) + t.ty
}

// alignOptions bounds the search.
type alignOptions struct {
	maxScale float64 // largest |s − 1|
	maxShift float64 // largest shift, as a fraction of the width
}

// align finds the zoom and shift that best lay the result's gradient
// magnitudes over the original's, weighted by rowWeight (the floor, where
// furniture goes, counts little). It searches exhaustively on a quarter-size
// copy and refines by local search at half and full size: gradients, not
// colours, so a colour change by the model does not pull the answer.
func align(mo, mr *plane, rowWeight []float32, opt alignOptions) (transform, float64) {
	o1, r1 := half(mo), half(mr)
	o2, r2 := boxBlur3(half(o1)), boxBlur3(half(r1))
	cx, cy := float64(mo.w-1)/2, float64(mo.h-1)/2

	// Level 2: every zoom on a grid; for each, warp the result once and try
	// every whole-pixel shift.
	w2, h2 := o2.w, o2.h
	c2x, c2y := float64(w2-1)/2, float64(h2-1)/2
	R := int(math.Ceil(opt.maxShift * float64(w2)))
	best, bestScore := transform{s: 1, cx: cx, cy: cy}, math.Inf(-1)
	warped := newPlane(w2, h2)
	valid := make([]bool, w2*h2)
	const scaleGrid = 0.0075
	steps := int(math.Round(opt.maxScale / scaleGrid))
	for k := -steps; k <= steps; k++ {
		s := 1 + float64(k)*scaleGrid
		for y := range h2 {
			for x := range w2 {
				v, ok := r2.bilinear(c2x+s*(float64(x)-c2x), c2y+s*(float64(y)-c2y))
				warped.p[y*w2+x], valid[y*w2+x] = v, ok
			}
		}
		for dy := -R; dy <= R; dy++ {
			for dx := -R; dx <= R; dx++ {
				var sab, saa, sbb float64
				for y := max(0, -dy); y < min(h2, h2-dy); y++ {
					wy := rowWeight[min(len(rowWeight)-1, y*4+2)]
					if wy == 0 {
						continue
					}
					var ab, aa, bb float32
					ro, rr := y*w2, (y+dy)*w2+dx
					for x := max(0, -dx); x < min(w2, w2-dx); x++ {
						if !valid[rr+x] {
							continue
						}
						a, b := o2.p[ro+x], warped.p[rr+x]
						ab += a * b
						aa += a * a
						bb += b * b
					}
					sab += float64(wy * ab)
					saa += float64(wy * aa)
					sbb += float64(wy * bb)
				}
				if saa == 0 || sbb == 0 {
					continue
				}
				sc := sab / math.Sqrt(saa*sbb)
				if sc > bestScore {
					// A shift of d at level 2 is 4·s·d at full size.
					bestScore = sc
					best = transform{s: s, tx: 4 * s * float64(dx), ty: 4 * s * float64(dy), cx: cx, cy: cy}
				}
			}
		}
	}
	// Levels 1 and 0: local search around the best, with shrinking steps.
	best, _ = refine(o1, r1, rowWeight, 2, best, 2, 0.0035, 2)
	best, _ = refine(o1, r1, rowWeight, 2, best, 1, 0.002, 2)
	best, bestScore = refine(mo, mr, rowWeight, 1, best, 0.5, 0.001, 3)
	return best, bestScore
}

// refine hill-climbs the score over zoom and shift at one level (f = its
// reduction from full size), sampling every stride-th pixel.
func refine(o, r *plane, rowWeight []float32, f int, t transform, shiftStep, scaleStep float64, stride int) (transform, float64) {
	score := func(t transform) float64 {
		var sab, saa, sbb float64
		ff := float64(f)
		for y := 0; y < o.h; y += stride {
			wy := rowWeight[min(len(rowWeight)-1, y*f+f/2)]
			if wy == 0 {
				continue
			}
			var ab, aa, bb float32
			for x := 0; x < o.w; x += stride {
				// Level coordinates to full size and back.
				px, py := t.apply(float64(x)*ff+(ff-1)/2, float64(y)*ff+(ff-1)/2)
				b, ok := r.bilinear((px-(ff-1)/2)/ff, (py-(ff-1)/2)/ff)
				if !ok {
					continue
				}
				a := o.p[y*o.w+x]
				ab += a * b
				aa += a * a
				bb += b * b
			}
			sab += float64(wy * ab)
			saa += float64(wy * aa)
			sbb += float64(wy * bb)
		}
		if saa == 0 || sbb == 0 {
			return math.Inf(-1)
		}
		return sab / math.Sqrt(saa*sbb)
	}
	// Coordinate descent: one step along each of the three parameters at a
	// time, a few rounds (the exhaustive level has brought us close).
	best, bestScore := t, score(t)
	for range 4 {
		improved := false
		cur := best
		for _, d := range [6][3]float64{{1, 0, 0}, {-1, 0, 0}, {0, 1, 0}, {0, -1, 0}, {0, 0, 1}, {0, 0, -1}} {
			c := cur
			c.s += d[0] * scaleStep
			c.tx += d[1] * shiftStep
			c.ty += d[2] * shiftStep
			if sc := score(c); sc > bestScore {
				best, bestScore, improved = c, sc, true
			}
		}
		if !improved {
			break
		}
	}
	return best, bestScore
}
