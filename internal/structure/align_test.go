package structure

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAlignFindsTheReframing renders rooms with a known zoom and shift and
// checks that align recovers them to within a pixel at the working size,
// furniture in the result notwithstanding.
func TestAlignFindsTheReframing(t *testing.T) {
	seeds := uint64(6)
	if raceEnabled {
		seeds = 2
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		rng := rand.New(rand.NewPCG(seed, 5))
		rm := newRoom(rng, 960, 720)
		orig := rm.render(look{w: 960, h: 720, s: 1, gain: col{1, 1, 1}, noise: 2, seed: seed})
		out := rm.clone()
		out.furnish(rng)
		l := look{w: 960, h: 720, s: 1 + 0.02*(2*rng.Float64()-1), tx: float64(rng.IntN(9) - 4), ty: float64(rng.IntN(9) - 4),
			gain: col{1.05, 1, 0.92}, noise: 3, seed: seed + 1}
		res := out.render(l)
		w, h := workingSize(orig.Bounds(), 640)
		o, r := resample(orig, w, h), resample(res, w, h)
		fade := make([]float32, h)
		for y := range h {
			fade[y] = fadeAt(y, h)
		}
		gxo, gyo, _ := sobel(o.luma())
		gxr, gyr, _ := sobel(r.luma())
		po := pyramid(gxo, gyo)
		po.markEdges(3)
		got, _ := align(po, pyramid(gxr, gyr), fade, alignOptions{maxScale: 0.03, maxShift: 0.025})
		// Where do the picture's corners land, against the truth?
		k := float64(w) / 960
		var worst float64
		for _, q := range [][2]float64{{0, 0}, {float64(w), 0}, {0, float64(h)}, {float64(w), float64(h)}} {
			gx, gy := got.apply(q[0], q[1])
			if q[1] > 0 {
				// The floor is not compared (furniture): judge the rows that count.
				q[1] = 0.6 * float64(h)
				gx, gy = got.apply(q[0], q[1])
			}
			// Truth in working pixels: scene point q/k maps to (c + s(q/k − c) + t)·k.
			cx, cy := 480.0, 360.0
			wx := (cx + l.s*(q[0]/k-cx) + l.tx) * k
			wy := (cy + l.s*(q[1]/k-cy) + l.ty) * k
			worst = max(worst, math.Hypot(gx-wx, gy-wy))
		}
		t.Logf("seed %d: s %.4f t (%.1f, %.1f), want s %.4f t (%.1f, %.1f); worst corner error %.2f px",
			seed, got.s, got.tx, got.ty, l.s, l.tx*k, l.ty*k, worst)
		if worst > 1 {
			t.Errorf("seed %d: corners off by %.2f px", seed, worst)
		}
	}
}
