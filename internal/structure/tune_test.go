package structure

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// tuningSeeds reads how many tuning seeds to run from the variable name
// (skipping the test when it is not set) and the first one from
// STRUCTURE_SEED0 (tuneSeed0 by default), and refuses a range that reaches
// the held-out seeds.
func tuningSeeds(t *testing.T, name string) (seed0 uint64, n int) {
	n, _ = strconv.Atoi(os.Getenv(name))
	if n <= 0 {
		t.Skipf("set %s=<seeds> to run", name)
	}
	seed0 = tuneSeed0
	if v, _ := strconv.ParseUint(os.Getenv("STRUCTURE_SEED0"), 10, 64); v > 0 {
		seed0 = v // more tuning seeds
	}
	if seed0+uint64(n) > heldOutSeed0 {
		t.Fatal("the held-out seeds are not for tuning")
	}
	return seed0, n
}

// caseWanted says whether STRUCTURE_CASE=a,b (all cases when unset) names
// the case.
func caseWanted(name string) bool {
	only := os.Getenv("STRUCTURE_CASE")
	return only == "" || strings.Contains(","+only+",", ","+name+",")
}

// TestCorpusTune prints, for the tuning seeds, every case's flag count and
// score distribution and the misses; it runs only when asked:
//
//	STRUCTURE_TUNE=100 go test -run TestCorpusTune -v ./internal/structure/
//
// STRUCTURE_SEED0 starts at another tuning seed, STRUCTURE_CASE=a,b runs
// only those cases.
// STRUCTURE_DUMP=dir also writes each missed or falsely flagged pair as PNGs.
func TestCorpusTune(t *testing.T) {
	seed0, n := tuningSeeds(t, "STRUCTURE_TUNE")
	dump := os.Getenv("STRUCTURE_DUMP")
	// Flag counts per threshold, for choosing DefaultThreshold from data.
	thresholds := []float64{0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8}
	var sweep strings.Builder
	fmt.Fprintf(&sweep, "%-15s", "threshold")
	for _, th := range thresholds {
		fmt.Fprintf(&sweep, " %5.2f", th)
	}
	sweep.WriteString("\n")
	defer func() { t.Logf("flagged per threshold:\n%s", sweep.String()) }()
	for _, c := range corpusCases {
		if !caseWanted(c.name) {
			continue
		}
		var scores []float64
		flagged, total := 0, 0
		var misses []string
		for s := range uint64(n) {
			orig, res, ok := makePair(seed0+s, c.name)
			if !ok {
				continue
			}
			rep, err := Check(context.Background(), orig, res.img, Options{})
			if err != nil {
				t.Fatal(err)
			}
			total++
			scores = append(scores, rep.Score)
			if rep.Flagged {
				flagged++
			}
			if rep.Flagged != c.mutated {
				misses = append(misses, fmt.Sprintf("%d:%.2f%v", seed0+s, rep.Score, rep.Regions))
				if dump != "" {
					for name, img := range map[string]image.Image{"o": orig, "r": res.img} {
						f, _ := os.Create(filepath.Join(dump, fmt.Sprintf("%s-%d-%s.png", c.name, seed0+s, name)))
						_ = png.Encode(f, img)
						f.Close()
					}
				}
			}
		}
		if len(scores) == 0 {
			continue
		}
		fmt.Fprintf(&sweep, "%-15s", c.name)
		for _, th := range thresholds {
			k := 0
			for _, v := range scores {
				if v >= th {
					k++
				}
			}
			fmt.Fprintf(&sweep, " %5d", k)
		}
		sweep.WriteString("\n")
		sort.Float64s(scores)
		q := func(p float64) float64 { return scores[min(len(scores)-1, int(p*float64(len(scores))))] }
		t.Logf("%-15s %3d/%-3d  p10 %.2f p50 %.2f p90 %.2f", c.name, flagged, total, q(0.1), q(0.5), q(0.9))
		for _, m := range misses {
			t.Logf("    %s", m)
		}
	}
}

// onePair is the pair STRUCTURE_ONE=<case>:<seed> names; the test is
// skipped without it.
func onePair(t *testing.T) (orig image.Image, res drawn) {
	spec := os.Getenv("STRUCTURE_ONE")
	if spec == "" {
		t.Skip("set STRUCTURE_ONE=<case>:<seed>")
	}
	var kind string
	var seed uint64
	if _, err := fmt.Sscanf(strings.Replace(spec, ":", " ", 1), "%s %d", &kind, &seed); err != nil {
		t.Fatal(err)
	}
	orig, res, ok := makePair(seed, kind)
	if !ok {
		t.Skip("case does not apply")
	}
	return orig, res
}

// TestCorpusOne checks one pair and writes it as PNGs, for looking at:
//
//	STRUCTURE_ONE=furnished:1 go test -run TestCorpusOne -v ./internal/structure/
func TestCorpusOne(t *testing.T) {
	orig, res := onePair(t)
	rep, err := Check(context.Background(), orig, res.img, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("score %.3f flagged %v regions %v", rep.Score, rep.Flagged, rep.Regions)
	for name, img := range map[string]image.Image{"o": orig, "r": res.img} {
		f, _ := os.Create(filepath.Join(os.TempDir(), "one-"+name+".png"))
		_ = png.Encode(f, img)
		f.Close()
	}
}

// TestCorpusOneDebug prints the alignment and the raw findings of one pair.
func TestCorpusOneDebug(t *testing.T) {
	orig, res := onePair(t)
	w, h := workingSize(orig.Bounds(), 640)
	c := newComparison(resample(orig, w, h), resample(res.img, w, h))
	c.trace = t.Logf
	l := res.look
	k := float64(w) / float64(corpusW)
	px, py := l.truthAt(c.t.cx, c.t.cy, k)
	t.Logf("truth: s %.4f t (%.2f, %.2f)", l.s, px-c.t.cx, py-c.t.cy)
	t.Logf("transform %+v flatO %.1f flatR %.1f minMag %.1f bright %.0f", c.t, c.flatO, c.flatR, c.minMag, c.brightLevel)
	for _, f := range c.findRegions() {
		t.Logf("%s %.0f,%.0f–%.0f,%.0f %.3f", f.kind, f.x0, f.y0, f.x1, f.y1, f.score)
	}
}

// TestCorpusCandidates prints every window-like candidate of the tuning
// seeds with its measurements, one line each, for choosing the gates from
// data (added windows' true boxes are printed as TRUTH lines):
//
//	STRUCTURE_CANDIDATES=100 go test -run TestCorpusCandidates -v ./internal/structure/
func TestCorpusCandidates(t *testing.T) {
	seed0, n := tuningSeeds(t, "STRUCTURE_CANDIDATES")
	cases := strings.Split(os.Getenv("STRUCTURE_CASE"), ",")
	if cases[0] == "" {
		cases = []string{"furnished", "hard_negative", "window_added"}
	}
	for s := range uint64(n) {
		rm, orig := makeOriginal(seed0 + s)
		for _, kind := range cases {
			res, ok := makeResult(rm, seed0+s, kind)
			if !ok {
				continue
			}
			w, h := workingSize(orig.Bounds(), 640)
			k := float64(w) / float64(corpusW)
			if kind == "window_added" {
				o := res.added
				q := rm.quad(o.wall, o.u0, o.u1, o.v0, o.v1)
				bx := emptyBox()
				for _, p := range q {
					bx = bx.union(box{p[0] * k, p[1] * k, p[0] * k, p[1] * k})
				}
				t.Logf("TRUTH %s %d x0=%.0f y0=%.0f x1=%.0f y1=%.0f", kind, seed0+s, bx.x0, bx.y0, bx.x1, bx.y1)
			}
			c := newComparison(resample(orig, w, h), resample(res.img, w, h))
			c.trace = func(format string, args ...any) {
				if strings.HasPrefix(format, "CAND") {
					t.Logf("%s %d %s", kind, seed0+s, fmt.Sprintf(format, args...))
				}
			}
			for _, f := range c.findRegions() {
				t.Logf("FIND %s %d %s %.0f %.0f %.0f %.0f %.3f", kind, seed0+s, f.kind, f.x0, f.y0, f.x1, f.y1, f.score)
			}
		}
	}
}

// TestCorpusAlign prints, per case, how far the alignment is from the
// truth on the tuning seeds (median, 90th and 99th percentile, and the
// seeds more than 2 px off): a misaligned pair shows everything as changed.
//
//	STRUCTURE_ALIGN=100 go test -run TestCorpusAlign -v ./internal/structure/
func TestCorpusAlign(t *testing.T) {
	seed0, n := tuningSeeds(t, "STRUCTURE_ALIGN")
	for _, c := range corpusCases {
		if !caseWanted(c.name) {
			continue
		}
		var errs []float64
		var off []string
		for s := range uint64(n) {
			orig, res, ok := makePair(seed0+s, c.name)
			if !ok {
				continue
			}
			_, e := alignmentError(orig, res.img, res.look)
			errs = append(errs, e)
			if e > 2 {
				off = append(off, fmt.Sprintf("%d:%.1f", seed0+s, e))
			}
		}
		if len(errs) == 0 {
			continue
		}
		sort.Float64s(errs)
		q := func(p float64) float64 { return errs[min(len(errs)-1, int(p*float64(len(errs))))] }
		t.Logf("%-15s p50 %.2f p90 %.2f p99 %.2f px; off by more than 2 px: %d %v", c.name, q(0.5), q(0.9), q(0.99), len(off), off)
	}
}
