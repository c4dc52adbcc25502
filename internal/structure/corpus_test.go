package structure

import (
	"context"
	"fmt"
	"image"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// The corpus: for each seed a room, and one pair per case. The tuning
// seeds are the ones the thresholds were chosen on; the held-out seeds are
// what the floors below are asserted on.
const (
	tuneSeed0    = 1
	heldOutSeed0 = 100001
)

// corpusCases in table order; mutated says whether a change was made.
var corpusCases = []struct {
	name    string
	mutated bool
}{
	{"furnished", false},
	{"hard_negative", false},
	{"window_removed", true},
	{"door_removed", true},
	{"window_added", true},
	{"wall_moved", true},
	{"window_resized", true},
	{"door_added", true},
}

// makePair draws the original and the result of one case for one seed; ok
// is false when the case does not apply (door removed in a room with no
// door, no room on the walls for a new window).
func makePair(seed uint64, kind string) (orig image.Image, res drawn, ok bool) {
	rm, orig := makeOriginal(seed)
	res, ok = makeResult(rm, seed, kind)
	return orig, res, ok
}

// drawn is a result drawn for a case: the picture, the re-framing it was
// drawn with (the truth the alignment is measured against) and, for the
// "added" cases, the opening added.
type drawn struct {
	img   image.Image
	look  look
	added opening
}

const corpusW, corpusH = 960, 720

// makeOriginal draws the room of a seed as photographed.
func makeOriginal(seed uint64) (*room, image.Image) {
	rng := rand.New(rand.NewPCG(seed, 1))
	rm := newRoom(rng, corpusW, corpusH)
	return rm, rm.render(look{w: corpusW, h: corpusH, s: 1, gain: col{1, 1, 1}, noise: 1 + 2*rng.Float64(), seed: seed})
}

// makeResult draws what a model returns for the room, with one case's
// change.
func makeResult(rm *room, seed uint64, kind string) (drawn, bool) {
	const W, H = corpusW, corpusH

	mrng := rand.New(rand.NewPCG(seed, uint64(len(kind))*7919+uint64(kind[0])))
	out := rm.clone()
	var res drawn
	switch kind {
	case "furnished":
	case "hard_negative":
		out.decorate(mrng)
	case "window_removed", "window_resized":
		var wins []int
		for i, o := range out.openings {
			if !o.door {
				wins = append(wins, i)
			}
		}
		if len(wins) == 0 {
			return drawn{}, false
		}
		i := wins[mrng.IntN(len(wins))]
		if kind == "window_removed" {
			out.openings = append(out.openings[:i], out.openings[i+1:]...)
			break
		}
		o := &out.openings[i]
		f := 0.6 + 0.15*mrng.Float64()
		if mrng.IntN(2) == 0 {
			f = 1.3 + 0.2*mrng.Float64()
		}
		u0, u1, v0, v1 := out.wallSpan(o.wall)
		if mrng.IntN(2) == 0 {
			mid, half := (o.u0+o.u1)/2, (o.u1-o.u0)/2*f
			o.u0, o.u1 = max(u0+0.02*(u1-u0), mid-half), min(u1-0.02*(u1-u0), mid+half)
		} else {
			o.v1 = min(v1-0.05*(v1-v0), o.v0+(o.v1-o.v0)*f)
		}
	case "door_removed":
		found := false
		for i, o := range out.openings {
			if o.door {
				out.openings = append(out.openings[:i], out.openings[i+1:]...)
				found = true
				break
			}
		}
		if !found {
			return drawn{}, false
		}
	case "window_added", "door_added":
		added := false
		for range 30 {
			if out.tryOpening(mrng, kind == "door_added") {
				added = true
				break
			}
		}
		if !added {
			return drawn{}, false
		}
		res.added = out.openings[len(out.openings)-1]
	case "wall_moved":
		f := 1 + 0.1 + 0.1*mrng.Float64()
		if mrng.IntN(2) == 0 {
			f = 1 / f
		}
		out.Zb *= f
		var keep []opening
		for _, o := range out.openings {
			if o.wall != wallBack {
				o.u1 = min(o.u1, out.Zb-0.05)
				if o.u1-o.u0 < 0.05 {
					continue
				}
			}
			keep = append(keep, o)
		}
		out.openings = keep
	default:
		panic("unknown case " + kind)
	}
	out.furnish(mrng)

	// The model's re-framing: ±1–2 % zoom, a few pixels of shift, sometimes
	// another output size, a colour change and more noise.
	l := look{w: W, h: H, gain: col{0.9 + 0.2*mrng.Float64(), 0.9 + 0.2*mrng.Float64(), 0.9 + 0.2*mrng.Float64()},
		noise: 1.5 + 2.5*mrng.Float64(), seed: seed ^ 0xabcdef}
	l.s = 1 + (0.01+0.01*mrng.Float64())*float64(1-2*mrng.IntN(2))
	l.tx, l.ty = float64(mrng.IntN(9)-4), float64(mrng.IntN(9)-4)
	switch mrng.IntN(3) {
	case 1:
		l.w, l.h = 1024, 768
	case 2:
		l.w, l.h = 800, 600
	}
	res.img, res.look = out.render(l), l
	return res, true
}

// corpusCount is the number of held-out seeds per case: the full 100 in a
// normal run, 20 with -short, 2 under the race detector (which makes this
// arithmetic ten times slower and finds nothing in it: the run only shows
// that the corpus code still works). The subsets are the
// first seeds, fixed, so the counts are exact.
func corpusCount() int {
	switch {
	case raceEnabled:
		return 2
	case testing.Short():
		return 20
	}
	return 100
}

type tally struct{ flagged, total int }

// runCorpus checks every case for n seeds from seed0 and counts the
// flagged results per case. Seeds are spread over GOMAXPROCS goroutines
// (Check keeps no state between calls, and the server calls it from
// several at once); the counts do not depend on the order.
func runCorpus(t testing.TB, seed0 uint64, n int, opt Options) map[string]*tally {
	out := map[string]*tally{}
	for _, c := range corpusCases {
		out[c.name] = &tally{}
	}
	var mu sync.Mutex
	var next atomic.Uint64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for s := next.Add(1) - 1; s < uint64(n); s = next.Add(1) - 1 {
				rm, orig := makeOriginal(seed0 + s)
				for _, c := range corpusCases {
					res, ok := makeResult(rm, seed0+s, c.name)
					if !ok {
						continue
					}
					rep, err := Check(context.Background(), orig, res.img, opt)
					if err != nil {
						t.Errorf("%s seed %d: %v", c.name, seed0+s, err)
						continue
					}
					mu.Lock()
					out[c.name].total++
					if rep.Flagged {
						out[c.name].flagged++
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return out
}

func table(res map[string]*tally) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-16s %-9s %s\n", "case", "flagged", "prototype")
	for _, c := range corpusCases {
		tl := res[c.name]
		fmt.Fprintf(&b, "%-16s %-9s %s\n", c.name, fmt.Sprintf("%d/%d", tl.flagged, tl.total), prototype[c.name])
	}
	return b.String()
}

// prototype is what the stdlib-only prototype this check was specified
// against measured (issue 22), for the table.
var prototype = map[string]string{
	"furnished":      "0/100",
	"hard_negative":  "0/100",
	"window_removed": "98/100",
	"door_removed":   "47/48",
	"window_added":   "82/99",
	"wall_moved":     "87/100",
	"window_resized": "63/100",
	"door_added":     "11/100",
}

// allowed is the regression floor, as the most results a case may get
// wrong for each seed count: missed changes for a mutated case, false flags
// for an unmodified one. They are this check's measurements on the held-out
// seeds at DefaultThreshold, exactly (the corpus is deterministic). Against
// the prototype every case is at least as good: furnished and hard
// negatives (0 false flags each), window_removed (2 misses, as the
// prototype's), door_removed (0), window_added (17 of 100 against 17 of
// 99), wall_moved (0), window_resized (33) and door_added (85 of 99).
var allowed = map[int]map[string]int{
	100: {"furnished": 0, "hard_negative": 0, "window_removed": 2, "door_removed": 0,
		"window_added": 17, "wall_moved": 0, "window_resized": 33, "door_added": 85},
	20: {"furnished": 0, "hard_negative": 0, "window_removed": 0, "door_removed": 0,
		"window_added": 3, "wall_moved": 0, "window_resized": 9, "door_added": 19},
	2: {"furnished": 0, "hard_negative": 0, "window_removed": 0, "door_removed": 0,
		"window_added": 0, "wall_moved": 0, "window_resized": 0, "door_added": 2},
}

// TestCorpusHeldOut asserts the detection and false-flag counts on the
// held-out seeds. The full table (a few minutes):
//
//	go test -run TestCorpusHeldOut -v ./internal/structure/
func TestCorpusHeldOut(t *testing.T) {
	n := corpusCount()
	res := runCorpus(t, heldOutSeed0, n, Options{})
	t.Logf("held-out seeds %d…%d, threshold %.2f:\n%s", heldOutSeed0, heldOutSeed0+uint64(n)-1, DefaultThreshold, table(res))
	for _, c := range corpusCases {
		tl, most := res[c.name], allowed[n][c.name]
		wrong := tl.flagged // false flags
		if c.mutated {
			wrong = tl.total - tl.flagged // missed changes
		}
		if wrong > most {
			t.Errorf("%s: %d/%d flagged; %d wrong, want at most %d", c.name, tl.flagged, tl.total, wrong, most)
		}
	}
}

// TestFurnitureIsNoChange takes tuning rooms that were flagged for a
// piece of furniture: a pale cabinet in front of a window's lower part
// (hard negative 566: its frame; 1344: its glass) or a door's (furnished
// 316), passing for paint but for its top; the white top of a cabinet low
// in the picture (hard negative 490); floor lamps' shades on their poles
// (furnished 618, 689); a picture of pale patches of several colours (hard
// negative 660); a white bookcase's frame (hard negative 644) and one
// standing on the floor with a lamp shade in front (1022); a cabinet
// that ends just past the door it hides, of the door's own colour (hard
// negatives 590, 1541); pale curtains' folds over a window's frame (2261,
// 2436); a pendant lamp hung in front of a picture (2088, 2911); pale
// pictures framed like a window, their top dimly lit in several hues
// (1731, 2217, 3232); white curtains beside a window (3856); and pale
// cabinets in front of a window's sill, its frame's sides left standing,
// whose top was read as the sill moved or the glass shrunk (2406, 3055:
// wider than the sill; 3257: narrower, the sill still there on both
// sides of it).
func TestFurnitureIsNoChange(t *testing.T) {
	assertUnflagged(t, []corpusPair{{"hard_negative", 566}, {"hard_negative", 1344}, {"furnished", 316},
		{"hard_negative", 490}, {"furnished", 618}, {"furnished", 689}, {"hard_negative", 660},
		{"hard_negative", 644}, {"hard_negative", 1022}, {"hard_negative", 590}, {"hard_negative", 1541},
		{"hard_negative", 2261}, {"hard_negative", 2436}, {"hard_negative", 2088}, {"hard_negative", 2911},
		{"hard_negative", 1731}, {"hard_negative", 2217}, {"hard_negative", 3232}, {"hard_negative", 3856},
		{"hard_negative", 2406}, {"hard_negative", 3055}, {"hard_negative", 3257}})
}

// TestADimSkyIsStillAWindow takes added windows whose top is lit over
// little of it, in one sky: 29 % lit in 84 % of one hue (482, which a
// cut at 30 % lost), 23 % in one hue (133). The rule against pictures
// (a dim top must be one sky) must leave them flagged.
func TestADimSkyIsStillAWindow(t *testing.T) {
	for _, seed := range []uint64{482, 133} {
		orig, res, _ := makePair(seed, "window_added")
		rep, err := Check(context.Background(), orig, res.img, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Flagged {
			t.Errorf("added window %d not flagged (score %.2f): %v", seed, rep.Score, rep.Regions)
		}
	}
}

// corpusPair names one pair of the corpus.
type corpusPair struct {
	kind string
	seed uint64
}

// assertUnflagged checks that none of the pairs is flagged.
func assertUnflagged(t *testing.T, pairs []corpusPair) {
	t.Helper()
	for _, p := range pairs {
		orig, res, _ := makePair(p.seed, p.kind)
		rep, err := Check(context.Background(), orig, res.img, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Flagged {
			t.Errorf("%s %d flagged (score %.2f): %v", p.kind, p.seed, rep.Score, rep.Regions)
		}
	}
}

// TestABrighterViewIsNoChange takes two tuning rooms whose result shows a
// window's view brighter: the glazing bar faded into the sky (furnished
// 78), the white sill into the blown-out glass (hard negative 295). Their
// lines are erased, yet the window is there as it was; both were flagged
// before windowKept.
func TestABrighterViewIsNoChange(t *testing.T) {
	assertUnflagged(t, []corpusPair{{"furnished", 78}, {"hard_negative", 295}})
}
