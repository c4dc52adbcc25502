package structure

import (
	"image"
	"math"
	"math/rand/v2"
	"testing"
)

// alignmentError aligns a pair drawn by the scene generator as a check
// does and returns the answer and how far it puts the picture's corners
// from the truth (the look the result was drawn with), in working pixels;
// the lower corners are taken at 60 % of the height, as the floor is not
// compared.
func alignmentError(orig, res image.Image, l look) (transform, float64) {
	w, h := workingSize(orig.Bounds(), 640)
	got := newComparison(resample(orig, w, h), resample(res, w, h)).t
	k := float64(w) / float64(orig.Bounds().Dx())
	var worst float64
	for _, q := range [][2]float64{{0, 0}, {float64(w), 0}, {0, 0.6 * float64(h)}, {float64(w), 0.6 * float64(h)}} {
		gx, gy := got.apply(q[0], q[1])
		wx, wy := l.truthAt(q[0], q[1], k)
		worst = max(worst, math.Hypot(gx-wx, gy-wy))
	}
	return got, worst
}

// truthAt is where the look l drew what the original shows at (x, y), in
// working pixels, k of them per scene pixel: the scene zoomed by l.s about
// its centre and shifted by (l.tx, l.ty).
func (l look) truthAt(x, y, k float64) (float64, float64) {
	cx, cy := float64(corpusW)/2, float64(corpusH)/2
	return (cx + l.s*(x/k-cx) + l.tx) * k, (cy + l.s*(y/k-cy) + l.ty) * k
}

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
		got, worst := alignmentError(orig, out.render(l), l)
		t.Logf("seed %d: s %.4f, want %.4f; worst corner error %.2f px", seed, got.s, l.s, worst)
		if worst > 1 {
			t.Errorf("seed %d: corners off by %.2f px", seed, worst)
		}
	}
}

// TestAlignSeesPastABookcase takes tuning rooms where a bookcase and
// curtains in front of a window fooled the coarse search: in 8 and 45 its
// best zooms were 12 and 8 px off at the corners, and the rooms were
// flagged as changed; the blocks' consensus finds the room. In 948 and
// 719 the consensus was near, but refining it on the global score pulled
// it 7–10 px off again (948 was flagged): the consensus is now fitted to
// the blocks only, and a fit is repeated while more blocks agree.
func TestAlignSeesPastABookcase(t *testing.T) {
	for _, seed := range []uint64{8, 45, 719, 948} {
		orig, res, _ := makePair(seed, "hard_negative")
		_, worst := alignmentError(orig, res.img, res.look)
		t.Logf("hard negative %d: worst corner error %.2f px", seed, worst)
		if worst > 2 {
			t.Errorf("hard negative %d: corners off by %.2f px", seed, worst)
		}
	}
}

// TestAlignLooksAroundTheFit takes tuning rooms whose fit settled about a
// per cent of zoom off, its shift making up for it in the middle (hard
// negatives 688, 1728, 2516, 3196, 3332: 6–11 px off at the corners; all
// five were flagged, for a wall corner or a window's side read as moved):
// more blocks agree with the truth, which the starts around the fit find.
func TestAlignLooksAroundTheFit(t *testing.T) {
	for _, seed := range []uint64{688, 1728, 2516, 3196, 3332} {
		orig, res, _ := makePair(seed, "hard_negative")
		_, worst := alignmentError(orig, res.img, res.look)
		t.Logf("hard negative %d: worst corner error %.2f px", seed, worst)
		if worst > 2 {
			t.Errorf("hard negative %d: corners off by %.2f px", seed, worst)
		}
	}
}
