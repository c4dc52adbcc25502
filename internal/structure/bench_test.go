package structure

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"sync"
	"testing"
)

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
	for b.Loop() {
		if _, err := Check(context.Background(), orig, res, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeAndCheck12MP adds decoding both JPEGs, as the pipeline
// does it.
func BenchmarkDecodeAndCheck12MP(b *testing.B) {
	ob, rb := bigPair()
	b.ResetTimer()
	for b.Loop() {
		orig, res := decodeJPEG(b, ob), decodeJPEG(b, rb)
		if _, err := Check(context.Background(), orig, res, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
