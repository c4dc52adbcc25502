package structure

import (
	"context"
	"testing"
)

func BenchmarkCheckCorpusPair(b *testing.B) {
	orig, res, _ := makePair(7, "furnished")
	b.ResetTimer()
	for b.Loop() {
		if _, err := Check(context.Background(), orig, res, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderPair(b *testing.B) {
	for b.Loop() {
		makePair(7, "furnished")
	}
}

func TestMorph(t *testing.T) {
	w, h := 9, 7
	m := make([]bool, w*h)
	m[3*w+4] = true
	g := morph(m, w, h, 1, true)
	n := 0
	for _, v := range g {
		if v {
			n++
		}
	}
	if n != 9 || !g[2*w+3] || !g[4*w+5] {
		t.Fatalf("grow: %d set", n)
	}
	s := morph(g, w, h, 1, false)
	n = 0
	for _, v := range s {
		if v {
			n++
		}
	}
	if n != 1 || !s[3*w+4] {
		t.Fatalf("shrink: %d set", n)
	}
}
