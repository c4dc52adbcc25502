package structure

import (
	"math"
)

// segment is a straight edge: its end points, the direction of the image
// gradient across it (from dark to bright side), and its mean contrast.
type segment struct {
	x0, y0, x1, y1 float64
	nx, ny         float64 // unit normal, along the gradient
	contrast       float64 // mean gradient magnitude of its pixels
	width          float64
}

func (s segment) length() float64 { return math.Hypot(s.x1-s.x0, s.y1-s.y0) }

// detectSegments finds straight edges the way the LSD family does: pixels
// whose gradient is strong enough are visited strongest first; each unused
// one seeds a region that grows over neighbours whose gradient direction
// agrees with the region's (within tol); the region is approximated by a
// rectangle, and kept when it is long, thin and dense enough. LSD proper
// validates a rectangle with an a-contrario test; at our working size and
// with our minimum length a density test does the same job for the long
// structural lines we need, at a fraction of the code. Written here because
// no maintained pure-Go line-segment detector exists (the ones we found wrap
// OpenCV through cgo).
func detectSegments(gx, gy, mag *plane, minMag float32, minLen float64) []segment {
	w, h := mag.w, mag.h
	const tol = 22.5 * math.Pi / 180
	// Pseudo-ordering by magnitude, as LSD does: 256 bins, strongest first.
	var maxMag float32
	for _, v := range mag.p {
		maxMag = max(maxMag, v)
	}
	if maxMag <= minMag {
		return nil
	}
	const bins = 256
	counts := make([]int, bins+1)
	binOf := func(v float32) int { return min(bins-1, int((v-minMag)/(maxMag-minMag)*bins)) }
	for _, v := range mag.p {
		if v > minMag {
			counts[binOf(v)+1]++
		}
	}
	for i := 1; i <= bins; i++ {
		counts[i] += counts[i-1]
	}
	order := make([]int32, counts[bins])
	pos := append([]int(nil), counts[:bins]...)
	for i, v := range mag.p {
		if v > minMag {
			b := binOf(v)
			order[pos[b]] = int32(i)
			pos[b]++
		}
	}
	used := make([]bool, w*h)
	angle := make([]float32, w*h)
	for i, v := range mag.p {
		if v > minMag {
			angle[i] = float32(math.Atan2(float64(gy.p[i]), float64(gx.p[i])))
		} else {
			used[i] = true // never part of a region
		}
	}
	var segs []segment
	region := make([]int32, 0, 1024)
	for k := len(order) - 1; k >= 0; k-- {
		seed := int(order[k])
		if used[seed] {
			continue
		}
		region = region[:0]
		region = append(region, int32(seed))
		used[seed] = true
		ra := float64(angle[seed])
		sx, sy := math.Cos(ra), math.Sin(ra)
		for i := 0; i < len(region); i++ {
			p := int(region[i])
			px, py := p%w, p/w
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					qx, qy := px+dx, py+dy
					if qx < 0 || qy < 0 || qx >= w || qy >= h {
						continue
					}
					q := qy*w + qx
					if used[q] || angleDiff(float64(angle[q]), ra) > tol {
						continue
					}
					used[q] = true
					region = append(region, int32(q))
					sx += math.Cos(float64(angle[q]))
					sy += math.Sin(float64(angle[q]))
					ra = math.Atan2(sy, sx)
				}
			}
		}
		if float64(len(region)) < minLen {
			continue
		}
		if s, ok := fitRect(region, w, mag, ra, minLen); ok {
			segs = append(segs, s)
		}
	}
	return segs
}

func angleDiff(a, b float64) float64 {
	d := math.Abs(a - b)
	if d > math.Pi {
		d = 2*math.Pi - d
	}
	return d
}

// fitRect approximates a region by a rectangle along its level-line
// direction (perpendicular to the region's gradient angle ra), weighted by
// gradient magnitude, and keeps it when long, thin and dense.
func fitRect(region []int32, w int, mag *plane, ra float64, minLen float64) (segment, bool) {
	var sw, cx, cy float64
	for _, p := range region {
		m := float64(mag.p[p])
		sw += m
		cx += m * float64(int(p)%w)
		cy += m * float64(int(p)/w)
	}
	cx /= sw
	cy /= sw
	// Direction along the line: perpendicular to the gradient.
	dx, dy := -math.Sin(ra), math.Cos(ra)
	lmin, lmax, wmin, wmax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, p := range region {
		x, y := float64(int(p)%w)-cx, float64(int(p)/w)-cy
		l := x*dx + y*dy
		t := -x*dy + y*dx
		lmin, lmax = min(lmin, l), max(lmax, l)
		wmin, wmax = min(wmin, t), max(wmax, t)
	}
	length := lmax - lmin + 1
	width := wmax - wmin + 1
	if length < minLen || width > max(4, length/6) {
		return segment{}, false
	}
	if density := float64(len(region)) / (length * width); density < 0.6 {
		return segment{}, false
	}
	return segment{
		x0: cx + lmin*dx, y0: cy + lmin*dy, x1: cx + lmax*dx, y1: cy + lmax*dy,
		nx: math.Cos(ra), ny: math.Sin(ra), contrast: sw / float64(len(region)), width: width,
	}, true
}
