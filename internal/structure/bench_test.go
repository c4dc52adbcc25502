package structure

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system CPU time so far: on a shared
// machine wall time says more about the neighbours than about the check,
// so the benchmarks also report CPU milliseconds per pair.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// A 12 MP pair (4032×3024, a phone photo) as the server has it: JPEG
// bytes of the prepared input and of the result.
var bigPair = sync.OnceValues(func() ([]byte, []byte) {
	const W, H = 4032, 3024
	rm := newRoom(rand.New(rand.NewPCG(42, 1)), W, H)
	orig := rm.render(look{w: W, h: H, s: 1, gain: col{1, 1, 1}, noise: 2, seed: 1})
	out := rm.clone()
	out.furnish(rand.New(rand.NewPCG(42, 2)))
	res := out.render(look{w: W, h: H, s: 1.015, tx: 6, ty: -4, gain: col{1.05, 1, 0.95}, noise: 3, seed: 2})
	enc := func(img image.Image) []byte {
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
			panic(err)
		}
		return b.Bytes()
	}
	return enc(orig), enc(res)
})

func decodeJPEG(tb testing.TB, b []byte) image.Image {
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	return img
}

// BenchmarkCheck12MP is the check of a decoded 12 MP pair: the figure the
// ≤ 300 ms target is about.
//
//	go test -run XXX -bench Check12MP -benchtime 10x ./internal/structure/
func BenchmarkCheck12MP(b *testing.B) {
	ob, rb := bigPair()
	orig, res := decodeJPEG(b, ob), decodeJPEG(b, rb)
	b.ResetTimer()
	cpu0, n := cpuTime(), 0
	for b.Loop() {
		if _, err := Check(context.Background(), orig, res, Options{}); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(n), "cpu-ms/op")
}

// BenchmarkDecodeAndCheck12MP adds decoding both JPEGs, as the pipeline
// does it.
func BenchmarkDecodeAndCheck12MP(b *testing.B) {
	ob, rb := bigPair()
	b.ResetTimer()
	cpu0, n := cpuTime(), 0
	for b.Loop() {
		orig, res := decodeJPEG(b, ob), decodeJPEG(b, rb)
		if _, err := Check(context.Background(), orig, res, Options{}); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(n), "cpu-ms/op")
}
