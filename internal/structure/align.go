package structure

import (
	"cmp"
	"math"
	"slices"
)

// transform maps a position q in the original (working size) to the
// result: p = c + s·(q − c) + t, c the pivot. Image models re-frame by a
// few per cent at most; a zoom plus a shift covers it.
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

// gradients is one image's derivatives at three sizes (full, half,
// quarter), and for the original the pixels that are edges at each size.
type gradients struct {
	gx, gy [3]*plane
	edges  [3][]int32
}

func pyramid(gx, gy *plane) gradients {
	var g gradients
	g.gx[0], g.gy[0] = gx, gy
	g.gx[1], g.gy[1] = half(gx), half(gy)
	g.gx[2], g.gy[2] = boxBlur3(half(g.gx[1])), boxBlur3(half(g.gy[1]))
	return g
}

// markEdges lists, per level, the pixels whose gradient is in the
// strongest fifth and at least minMag (scaled to the level). Only these
// are compared: the room's own edges must line up, and whatever the result
// adds elsewhere (furniture) does not pull the answer.
func (g *gradients) markEdges(minMag float32) {
	for l := range 3 {
		gx, gy := g.gx[l], g.gy[l]
		m := make([]float32, len(gx.p))
		for i := range m {
			m[i] = gx.p[i]*gx.p[i] + gy.p[i]*gy.p[i]
		}
		thr := max(quantile(m, 0.8), minMag*minMag/float32(int(1)<<(2*l)))
		g.edges[l] = g.edges[l][:0]
		for i, v := range m {
			if v >= thr && v > 0 {
				g.edges[l] = append(g.edges[l], int32(i))
			}
		}
	}
}

// align finds the zoom and shift that best lay the result's gradients over
// the original's (the correlation of the gradient vectors: direction and
// sign, not only strength, so a zoom about the vanishing point, which maps
// a room's converging lines onto themselves, is still told apart by the
// other edges), weighted by rowWeight (the floor, where furniture goes,
// counts little). Exhaustive on the quarter-size level, then a local search
// at half and full size. Gradients, not colours: a colour change by the
// model does not pull the answer.
func align(o, r gradients, rowWeight []float32, opt alignOptions) (transform, float64) {
	w0, h0 := o.gx[0].w, o.gx[0].h
	// The zoom is about the weighted centre of the compared rows: about the
	// picture's centre, a zoom error and a vertical shift would trade off
	// against each other on the upper rows that carry the weight.
	cx, cy := float64(w0-1)/2, 0.0
	var sw float64
	for y, v := range rowWeight {
		cy += float64(y) * float64(v)
		sw += float64(v)
	}
	if sw > 0 {
		cy /= sw
	} else {
		cy = float64(h0-1) / 2
	}

	// Level 2: every zoom on a grid; for each, warp the result once and try
	// every whole-pixel shift.
	ox, oy, rx, ry := o.gx[2], o.gy[2], r.gx[2], r.gy[2]
	w2, h2 := ox.w, ox.h
	c2x, c2y := (cx-1.5)/4, (cy-1.5)/4 // the same point at level 2
	R := int(math.Ceil(opt.maxShift * float64(w2)))
	// The best few starts of the exhaustive level are each refined: the
	// coarse level's best is not always the basin of the true answer.
	type cand struct {
		t          transform
		score      float64
		fromBlocks bool
	}
	var top []cand
	keep := func(t transform, sc float64) {
		for i, c := range top {
			if math.Abs(c.t.s-t.s) < 0.011 && math.Abs(c.t.tx-t.tx) <= 8 && math.Abs(c.t.ty-t.ty) <= 8 {
				// The same basin: keep the better of the two.
				if sc > c.score {
					top[i] = cand{t, sc, false}
				}
				return
			}
		}
		top = append(top, cand{t, sc, false})
		slices.SortFunc(top, func(a, b cand) int { return cmp.Compare(b.score, a.score) })
		if len(top) > 3 {
			top = top[:3]
		}
	}
	wx, wy := newPlane(w2, h2), newPlane(w2, h2)
	valid := make([]bool, w2*h2)
	rw := make([]float32, h2)
	for y := range h2 {
		rw[y] = rowWeight[min(len(rowWeight)-1, y*4+2)]
	}
	const scaleGrid = 0.005
	steps := int(math.Round(opt.maxScale / scaleGrid))
	for k := -steps; k <= steps; k++ {
		s := 1 + float64(k)*scaleGrid
		for y := range h2 {
			for x := range w2 {
				px, py := c2x+s*(float64(x)-c2x), c2y+s*(float64(y)-c2y)
				i := y*w2 + x
				var ok bool
				if wx.p[i], ok = rx.bilinear(px, py); ok {
					wy.p[i], _ = ry.bilinear(px, py)
				}
				valid[i] = ok
			}
		}
		for dy := -R; dy <= R; dy++ {
			for dx := -R; dx <= R; dx++ {
				var sab, saa, sbb float32
				shift := dy*w2 + dx
				for _, i := range o.edges[2] {
					x, y := int(i)%w2+dx, int(i)/w2+dy
					if x < 0 || y < 0 || x >= w2 || y >= h2 || !valid[int(i)+shift] {
						continue
					}
					wgt := rw[int(i)/w2]
					a1, a2 := ox.p[i], oy.p[i]
					b1, b2 := wx.p[int(i)+shift], wy.p[int(i)+shift]
					sab += wgt * (a1*b1 + a2*b2)
					saa += wgt * (a1*a1 + a2*a2)
					sbb += wgt * (b1*b1 + b2*b2)
				}
				if saa == 0 || sbb == 0 {
					continue
				}
				// A shift of d at level 2 is 4·s·d at full size.
				keep(transform{s: s, tx: 4 * s * float64(dx), ty: 4 * s * float64(dy), cx: cx, cy: cy},
					float64(sab)/math.Sqrt(float64(saa)*float64(sbb)))
			}
		}
	}
	// The blocks' consensus is a start of its own, and one the global
	// score does not refine: that score is what the furniture misleads.
	if t, ok := consensus(o, r, rowWeight, cx, cy, opt); ok {
		top = append(top, cand{t, 0, true})
	}
	// Each coarse start is refined, then every start is fitted to its
	// blocks, again from each fit while more blocks agree (a fit a few
	// pixels off measures some blocks at the rim of their search and
	// cannot count them); the answer is the fit most blocks agree with
	// (new furniture can make a wrong start score best globally, but it
	// does not make the room's blocks agree).
	blocks := fitBlocksOf(o, rowWeight)
	best, bestSupport := transform{s: 1, cx: cx, cy: cy}, -1.0
	for _, c := range top {
		t := c.t
		if !c.fromBlocks {
			t, _ = refine(o, r, 1, rowWeight, c.t, 1.5, 0.002, 2)
		}
		f, support, ok := blockFit(o, r, blocks, t, 4)
		// Again from the fit, while more blocks agree.
		for k := 0; ok && k < 2; k++ {
			f2, s2, ok2 := blockFit(o, r, blocks, f, 4)
			if !ok2 || s2 <= support {
				break
			}
			f, support = f2, s2
		}
		if ok && support > bestSupport {
			best, bestSupport = f, support
		} else if bestSupport < 0 && !ok {
			best = t
		}
	}
	if bestSupport > 0 {
		best, bestSupport = aroundBest(o, r, blocks, best, bestSupport)
	}
	if f, support, ok := blockFit(o, r, blocks, best, 2); ok {
		best, bestSupport = f, support
	}
	return best, bestSupport
}

// aroundBest looks near the best fit for one more blocks agree with. A
// fit can settle about a per cent off in zoom, its shift making up for it
// in the middle of the picture, when furniture lines up with the room's
// edges where the fit started: the blocks towards the sides are then
// found at the rim of their search, which does not count them, and the
// fit cannot walk out. Starts 0.6 and 1.2 % of zoom to either side, each
// with shifts of up to 3 px, are screened by a short fit (a reach of 2
// px), and the two that the most blocks agree with are fitted in full.
func aroundBest(o, r gradients, blocks []block, best transform, support float64) (transform, float64) {
	type start struct {
		t       transform
		support float64
	}
	var starts []start
	for _, ds := range [...]float64{-0.012, -0.006, 0.006, 0.012} {
		for _, dx := range [...]float64{-3, 0, 3} {
			for _, dy := range [...]float64{-3, 0, 3} {
				t := best
				t.s, t.tx, t.ty = t.s+ds, t.tx+dx, t.ty+dy
				if f, s, ok := blockFit(o, r, blocks, t, 2); ok {
					starts = append(starts, start{f, s})
				}
			}
		}
	}
	slices.SortFunc(starts, func(a, b start) int { return cmp.Compare(b.support, a.support) })
	for _, st := range starts[:min(len(starts), 2)] {
		if f, s, ok := blockFit(o, r, blocks, st.t, 4); ok && s > support {
			best, support = f, s
		}
	}
	return best, support
}

// consensus is a second way to the answer, for when the coarse search is
// misled: at half size, each block of the original's edges is looked for
// in the result over the whole search range on its own, and the zoom and
// shift that the most blocks agree with is the answer (every pair of
// blocks proposes one; every block votes with its peak). New furniture
// in front of a window can line up with the window's frame a few pixels
// off better than the room's fainter lines do in one global score, but
// it cannot make the blocks all over the room agree.
func consensus(o, r gradients, rowWeight []float32, cx, cy float64, opt alignOptions) (transform, bool) {
	ox, oy, rx, ry := o.gx[1], o.gy[1], r.gx[1], r.gy[1]
	w, h := ox.w, ox.h
	w0 := float64(o.gx[0].w)
	shift := opt.maxShift * w0
	var ms []blockMeas
	for _, pix := range edgeBlocks(o, 1, rowWeight, 16, 96) {
		bs := shapeOf(pix, ox, oy)
		if bs.energy == 0 {
			continue
		}
		qx, qy, aa := bs.qx, bs.qy, bs.energy
		// The block's centre at full size, and how far the search range
		// can carry it (in half-size pixels).
		fx, fy := 2*qx+0.5, 2*qy+0.5
		Rx := int(math.Ceil((opt.maxScale*math.Abs(fx-cx)+shift)/2)) + 1
		Ry := int(math.Ceil((opt.maxScale*math.Abs(fy-cy)+shift)/2)) + 1
		sc := make([]float64, (2*Rx+1)*(2*Ry+1))
		best, bx, by := math.Inf(-1), 0, 0
		for dy := -Ry; dy <= Ry; dy++ {
			for dx := -Rx; dx <= Rx; dx++ {
				var ab, bb float32
				for _, i := range pix {
					x, y := int(i)%w+dx, int(i)/w+dy
					if x < 0 || y < 0 || x >= w || y >= h {
						continue
					}
					j := y*w + x
					b1, b2 := rx.p[j], ry.p[j]
					ab += ox.p[i]*b1 + oy.p[i]*b2
					bb += b1*b1 + b2*b2
				}
				v := math.Inf(-1)
				if bb > 0 {
					v = float64(ab) / math.Sqrt(aa*float64(bb))
				}
				sc[(dy+Ry)*(2*Rx+1)+dx+Rx] = v
				if v > best {
					best, bx, by = v, dx, dy
				}
			}
		}
		if best < 0.6 {
			continue
		}
		at := func(dx, dy int) float64 { return sc[(dy+Ry)*(2*Rx+1)+dx+Rx] }
		px, py := float64(bx), float64(by)
		if bx > -Rx && bx < Rx {
			px += parabolaPeak(at(bx-1, by), best, at(bx+1, by))
		}
		if by > -Ry && by < Ry {
			py += parabolaPeak(at(bx, by-1), best, at(bx, by+1))
		}
		ms = append(ms, blockMeas{fx, fy, fx + 2*px, fy + 2*py, bs.txx, bs.txy, bs.tyy, best})
	}
	if len(ms) < 6 {
		return transform{}, false
	}
	// Every pair proposes; the proposal with the most support wins, then
	// is fitted to the blocks that agree with it.
	supportOf := func(t transform, use []bool) float64 {
		var sup float64
		for k, m := range ms {
			ok := m.miss(t) <= 2
			if use != nil {
				use[k] = ok
			}
			if ok {
				sup += m.peak
			}
		}
		return sup
	}
	plausible := func(t transform) bool {
		return math.Abs(t.s-1) <= opt.maxScale+0.005 && math.Abs(t.tx) <= 1.5*shift && math.Abs(t.ty) <= 1.5*shift
	}
	pair := make([]bool, len(ms))
	var best transform
	bestSup := 0.0
	for i := range ms {
		pair[i] = true
		for j := i + 1; j < len(ms); j++ {
			pair[j] = true
			if t, ok := fitBlocks(ms, pair, cx, cy); ok && plausible(t) {
				if sup := supportOf(t, nil); sup > bestSup {
					best, bestSup = t, sup
				}
			}
			pair[j] = false
		}
		pair[i] = false
	}
	if bestSup == 0 {
		return transform{}, false
	}
	use := make([]bool, len(ms))
	supportOf(best, use)
	if t, ok := fitBlocks(ms, use, cx, cy); ok && plausible(t) {
		best = t
	}
	return best, true
}

// edgeBlocks cuts the original's edge pixels at a level into blocks of 48
// full-size pixels, on the rows that weigh at least half, and returns those
// with at least lo pixels, thinned to at most hi: enough to measure a
// block's shift.
func edgeBlocks(o gradients, level int, rowWeight []float32, lo, hi int) [][]int32 {
	w, h := o.gx[level].w, o.gx[level].h
	B := 48 >> level
	nbx, nby := (w+B-1)/B, (h+B-1)/B
	blocks := make([][]int32, nbx*nby)
	for _, i := range o.edges[level] {
		x, y := int(i)%w, int(i)/w
		// The full-size row at the middle of this level's row.
		if rowWeight[min(len(rowWeight)-1, y<<level+(1<<level)/2)] < 0.5 {
			continue
		}
		b := (y/B)*nbx + x/B
		blocks[b] = append(blocks[b], i)
	}
	out := blocks[:0]
	for _, pix := range blocks {
		if len(pix) >= lo {
			out = append(out, thin(pix, hi))
		}
	}
	return out
}

// block is one block of the original's edge pixels and its shape.
type block struct {
	pix   []int32
	shape blockShape
}

// fitBlocksOf cuts the original's full-size edges into the blocks the
// block fit measures (see edgeBlocks), once for all its starts.
func fitBlocksOf(o gradients, rowWeight []float32) []block {
	var out []block
	for _, pix := range edgeBlocks(o, 0, rowWeight, 40, 160) {
		if bs := shapeOf(pix, o.gx[0], o.gy[0]); bs.energy > 0 {
			out = append(out, block{pix, bs})
		}
	}
	return out
}

// blockShape is a block of edge pixels' centre, its structure tensor
// normalised to a trace of 1, and its gradient energy (the trace before).
type blockShape struct{ qx, qy, txx, txy, tyy, energy float64 }

func shapeOf(pix []int32, gx, gy *plane) blockShape {
	var b blockShape
	for _, i := range pix {
		b.qx += float64(int(i) % gx.w)
		b.qy += float64(int(i) / gx.w)
		a1, a2 := float64(gx.p[i]), float64(gy.p[i])
		b.txx += a1 * a1
		b.txy += a1 * a2
		b.tyy += a2 * a2
	}
	b.qx, b.qy = b.qx/float64(len(pix)), b.qy/float64(len(pix))
	if b.energy = b.txx + b.tyy; b.energy > 0 {
		b.txx, b.txy, b.tyy = b.txx/b.energy, b.txy/b.energy, b.tyy/b.energy
	}
	return b
}

// thin keeps every k-th of the pixels, at most n of them: enough to
// measure a block's shift.
func thin(pix []int32, n int) []int32 {
	if len(pix) <= n {
		return pix
	}
	k := (len(pix) + n - 1) / n
	sub := make([]int32, 0, n)
	for i := 0; i < len(pix); i += k {
		sub = append(sub, pix[i])
	}
	return sub
}

// parabolaPeak is the offset of the top of the parabola through three
// equally spaced samples around a peak (b), within ±½.
func parabolaPeak(a, b, c float64) float64 {
	d := a - 2*b + c
	if d >= 0 || math.IsInf(a, 0) || math.IsInf(c, 0) {
		return 0
	}
	return 0.5 * (a - c) / d
}

// refine hill-climbs the score over zoom and shift at one level, sampling
// every stride-th pixel.
func refine(o, r gradients, level int, rowWeight []float32, t transform, shiftStep, scaleStep float64, stride int) (transform, float64) {
	ox, oy, rx, ry := o.gx[level], o.gy[level], r.gx[level], r.gy[level]
	f := float64(int(1) << level)
	off := (f - 1) / 2 // a level pixel's centre in full-size pixels
	edges := o.edges[level]
	if stride > 1 {
		sub := make([]int32, 0, len(edges)/stride+1)
		for k := 0; k < len(edges); k += stride {
			sub = append(sub, edges[k])
		}
		edges = sub
	}
	score := func(t transform) float64 {
		var sab, saa, sbb float64
		for _, i := range edges {
			x, y := int(i)%ox.w, int(i)/ox.w
			wy := rowWeight[min(len(rowWeight)-1, int(float64(y)*f+off))]
			if wy == 0 {
				continue
			}
			px, py := t.apply(float64(x)*f+off, float64(y)*f+off)
			px, py = (px-off)/f, (py-off)/f
			b1, ok := rx.bilinear(px, py)
			if !ok {
				continue
			}
			b2, _ := ry.bilinear(px, py)
			a1, a2 := ox.p[i], oy.p[i]
			sab += float64(wy * (a1*b1 + a2*b2))
			saa += float64(wy * (a1*a1 + a2*a2))
			sbb += float64(wy * (b1*b1 + b2*b2))
		}
		if saa == 0 || sbb == 0 {
			return math.Inf(-1)
		}
		return sab / math.Sqrt(saa*sbb)
	}
	// Local search over the 26 neighbours, a few rounds (the exhaustive
	// level has brought us close).
	best, bestScore := t, score(t)
	for range 3 {
		improved := false
		cur := best
		for ds := -1.0; ds <= 1; ds++ {
			for dy := -1.0; dy <= 1; dy++ {
				for dx := -1.0; dx <= 1; dx++ {
					if ds == 0 && dx == 0 && dy == 0 {
						continue
					}
					c := cur
					c.s += ds * scaleStep
					c.tx += dx * shiftStep
					c.ty += dy * shiftStep
					if sc := score(c); sc > bestScore {
						best, bestScore, improved = c, sc, true
					}
				}
			}
		}
		if !improved {
			break
		}
	}
	return best, bestScore
}

// blockFit refines a close transform the robust way: the picture is cut
// into blocks, each block's own shift is measured (the room's edges in it
// against the result), and the zoom and shift are fitted to those
// measurements by least squares, dropping the blocks that disagree. A block
// whose edges are hidden by new furniture measures nonsense and is dropped;
// in a global correlation it would pull the answer.
//
// support is the summed peak correlation of the blocks that agree with the
// fit: how much of the room the answer explains.
func blockFit(o, r gradients, blocks []block, t transform, reach int) (_ transform, support float64, ok bool) {
	ox, oy, rx, ry := o.gx[0], o.gy[0], r.gx[0], r.gy[0]
	w, h := rx.w, rx.h
	const maxReach = 4
	var ms []blockMeas
	var sc [2*maxReach + 1][2*maxReach + 1]float64
	// Where each pixel of a block lands in the result: the shifts tried are
	// whole pixels, so its bilinear weights are the same for all of them.
	type sample struct {
		x0, y0 int
		fx, fy float32
		a1, a2 float64
	}
	var ss []sample
	for _, bl := range blocks {
		bs := bl.shape
		qx, qy := bs.qx, bs.qy
		ss = ss[:0]
		for _, i := range bl.pix {
			px, py := t.apply(float64(int(i)%w), float64(int(i)/w))
			if px < -float64(reach) || py < -float64(reach) {
				continue // off the result at every shift
			}
			x0, y0 := int(math.Floor(px)), int(math.Floor(py))
			ss = append(ss, sample{x0, y0, float32(px - float64(x0)), float32(py - float64(y0)), float64(ox.p[i]), float64(oy.p[i])})
		}
		// Per sample, the rows of its neighbourhood are interpolated
		// across once (hx, hy: row r is y0−reach+r), and each shift's
		// value is then one step down between two of them: the same
		// arithmetic as a bilinear lookup per shift, with the horizontal
		// half shared by the shifts of a row and the one below.
		var ab, aa, bb [2*maxReach + 1][2*maxReach + 1]float64
		var hx, hy [2*maxReach + 2][2*maxReach + 1]float32
		n := 2*reach + 1
		for _, s := range ss {
			// Columns c0…c1−1 and rows r0…r1−1 are the shifts whose
			// lookup stays inside the result (0 ≤ x < w−1, 0 ≤ y < h−1).
			x, y := s.x0-reach, s.y0-reach
			c0, c1 := max(0, -x), min(n, w-1-x)
			r0, r1 := max(0, -y), min(n, h-1-y)
			if c0 >= c1 || r0 >= r1 {
				continue
			}
			for r := r0; r <= r1; r++ {
				j := (y+r)*w + x
				for c := c0; c < c1; c++ {
					hx[r][c] = rx.p[j+c]*(1-s.fx) + rx.p[j+c+1]*s.fx
					hy[r][c] = ry.p[j+c]*(1-s.fx) + ry.p[j+c+1]*s.fx
				}
			}
			a := s.a1*s.a1 + s.a2*s.a2
			for r := r0; r < r1; r++ {
				for c := c0; c < c1; c++ {
					b1 := hx[r][c]*(1-s.fy) + hx[r+1][c]*s.fy
					b2 := hy[r][c]*(1-s.fy) + hy[r+1][c]*s.fy
					ab[r][c] += s.a1*float64(b1) + s.a2*float64(b2)
					aa[r][c] += a
					bb[r][c] += float64(b1*b1 + b2*b2)
				}
			}
		}
		for r := range n {
			for c := range n {
				v := math.Inf(-1)
				if aa[r][c] > 0 && bb[r][c] > 0 {
					v = ab[r][c] / math.Sqrt(aa[r][c]*bb[r][c])
				}
				sc[r][c] = v
			}
		}
		// A clear peak inside the window, refined to a fraction of a pixel
		// by a parabola through it and its neighbours. A block whose score
		// still rises at the window's rim has its peak beyond it: where it
		// is, the window does not say (a line's ridge that runs along the
		// rim but peaks inside is fine).
		bestS, rim, bx, by := math.Inf(-1), math.Inf(-1), 0, 0
		for dy := -reach; dy <= reach; dy++ {
			for dx := -reach; dx <= reach; dx++ {
				v := sc[dy+reach][dx+reach]
				switch {
				case dx == -reach || dx == reach || dy == -reach || dy == reach:
					rim = max(rim, v)
				case v > bestS:
					bestS, bx, by = v, dx, dy
				}
			}
		}
		if bestS < 0.6 || rim > bestS+0.01 {
			continue
		}
		fx := float64(bx) + parabolaPeak(sc[by+reach][bx+reach-1], sc[by+reach][bx+reach], sc[by+reach][bx+reach+1])
		fy := float64(by) + parabolaPeak(sc[by+reach-1][bx+reach], sc[by+reach][bx+reach], sc[by+reach+1][bx+reach])
		px, py := t.apply(qx, qy)
		ms = append(ms, blockMeas{qx, qy, px + fx, py + fy, bs.txx, bs.txy, bs.tyy, bestS})
	}
	if len(ms) < 6 {
		return t, 0, false
	}
	// p − c = s·(q − c) + t, for x and y: three unknowns, least squares,
	// then again without the measurements far from the fit.
	use := make([]bool, len(ms))
	for i := range use {
		use[i] = true
	}
	fit := t
	for range 3 {
		var ok bool
		if fit, ok = fitBlocks(ms, use, t.cx, t.cy); !ok || countTrue(use) < 6 {
			return t, 0, false
		}
		res := make([]float64, len(ms))
		for i, m := range ms {
			res[i] = m.miss(fit)
		}
		med := slices.Clone(res)
		slices.Sort(med)
		lim := max(0.5, 2.5*med[len(med)/2])
		support = 0
		for i := range ms {
			use[i] = res[i] <= lim
			// Agreement is judged in absolute pixels for the support.
			if res[i] <= 1 {
				support += ms[i].peak
			}
		}
	}
	if math.Abs(fit.s-1) > 0.05 {
		return t, 0, false
	}
	return fit, support, true
}

// blockMeas is where one block of the original's edges (centred on q) was
// found in the result (p), with how clearly (peak, the correlation there).
// It counts only along the directions the block's edges constrain (txx…:
// their normalised structure tensor): a block with one straight line says
// nothing about a slide along that line.
type blockMeas struct{ qx, qy, px, py, txx, txy, tyy, peak float64 }

// miss is how far a transform puts the block from where it was found,
// along the directions the block constrains.
func (m blockMeas) miss(t transform) float64 {
	px, py := t.apply(m.qx, m.qy)
	ex, ey := px-m.px, py-m.py
	return math.Sqrt(max(0, ex*ex*m.txx+2*ex*ey*m.txy+ey*ey*m.tyy))
}

// fitBlocks fits the zoom and shift about (cx, cy) to the measurements in
// use by weighted least squares.
func fitBlocks(ms []blockMeas, use []bool, cx, cy float64) (transform, bool) {
	// Weighted normal equations for θ = (s, tx, ty): the model of a block
	// is J·θ with J = [[ux, 1, 0], [uy, 0, 1]], its error weighted by the
	// block's tensor T: Σ JᵀTJ·θ = Σ JᵀT·m.
	var a [3][3]float64
	var v [3]float64
	n := 0
	for i, m := range ms {
		if !use[i] {
			continue
		}
		n++
		ux, uy := m.qx-cx, m.qy-cy
		mx, my := m.px-cx, m.py-cy
		J := [2][3]float64{{ux, 1, 0}, {uy, 0, 1}}
		T := [2][2]float64{{m.txx, m.txy}, {m.txy, m.tyy}}
		for p := range 3 {
			// (JᵀT)[p] = Σ_k J[k][p]·T[k][·]
			tp0 := J[0][p]*T[0][0] + J[1][p]*T[1][0]
			tp1 := J[0][p]*T[0][1] + J[1][p]*T[1][1]
			for q := range 3 {
				a[p][q] += tp0*J[0][q] + tp1*J[1][q]
			}
			v[p] += tp0*mx + tp1*my
		}
	}
	if n < 2 {
		return transform{}, false
	}
	theta, ok := solve3(a, v)
	if !ok {
		return transform{}, false
	}
	return transform{s: theta[0], tx: theta[1], ty: theta[2], cx: cx, cy: cy}, true
}

func countTrue(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

// solve3 solves a·x = v by Cramer's rule.
func solve3(a [3][3]float64, v [3]float64) ([3]float64, bool) {
	det := func(m [3][3]float64) float64 {
		return m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) -
			m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) +
			m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
	}
	d := det(a)
	if math.Abs(d) < 1e-9 {
		return [3]float64{}, false
	}
	var x [3]float64
	for c := range 3 {
		m := a
		for r := range 3 {
			m[r][c] = v[r]
		}
		x[c] = det(m) / d
	}
	return x, true
}

// quantile returns the q-quantile of the non-negative values v, from a
// histogram of 1024 bins (exact enough for a threshold, and linear time).
func quantile(v []float32, q float64) float32 {
	var hi float32
	for _, x := range v {
		hi = max(hi, x)
	}
	if hi == 0 {
		return 0
	}
	var hist [1024]int
	for _, x := range v {
		hist[min(1023, int(x/hi*1023))]++
	}
	need := int(q * float64(len(v)))
	for b, n := range hist {
		need -= n
		if need < 0 {
			return float32(b) / 1023 * hi
		}
	}
	return hi
}
