package structure

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestDebugFrames(t *testing.T) {
	spec := os.Getenv("STRUCTURE_ONE")
	if spec == "" {
		t.Skip()
	}
	var kind string
	var seed uint64
	fmt.Sscanf(strings.Replace(spec, ":", " ", 1), "%s %d", &kind, &seed)
	orig, res, _ := makePair(seed, kind)
	w, h := workingSize(orig.Bounds(), 640)
	c := newComparison(resample(orig, w, h), resample(res, w, h))
	segs := detectSegments(c.gxr, c.gyr, c.mr, c.minMag, 0.04*float64(c.w))
	runs := c.missingRuns(segs, c.gxr, c.gyr, c.gxo, c.gyo, c.cr, c.co, c.io, c.flatO, false)
	wins, _ := c.brightRegions()
	t.Logf("wins %v", wins)
	t.Logf("frames %v", c.addedFrames(wins))
	for _, g := range cluster(runs) {
		for _, r := range g {
			t.Logf("run %+v", r)
		}
		t.Logf("--")
	}
}
