package openai

import (
	"fmt"
	"math"
)

// Output size rules of gpt-image-2 and later (docs/providers.md, OpenAI):
// any W×H with both sides divisible by 16 and an aspect ratio between 1:3
// and 3:1, up to 3840×2160, of which sizes above 2560×1440 are
// experimental. We stay on the stable side.
const (
	sizeStep    = 16
	targetArea  = 1536 * 1024 // the pixel count of the classic landscape size
	maxLongSide = 2560
	maxShort    = 1440
	maxRatio    = 3.0
)

// chooseSize is the output size closest to the input's aspect ratio that
// the model accepts: about targetArea pixels, both sides multiples of 16,
// the ratio clamped to [1:3, 3:1]. Unknown dimensions give "auto", which
// lets the model decide rather than distort the picture.
func chooseSize(w, h int) string {
	if w <= 0 || h <= 0 {
		return "auto"
	}
	r := math.Min(math.Max(float64(w)/float64(h), 1/maxRatio), maxRatio)
	fw := math.Sqrt(targetArea * r)
	fh := math.Sqrt(targetArea / r)
	// Keep inside the stable box without changing the ratio.
	long, short := math.Max(fw, fh), math.Min(fw, fh)
	if s := math.Min(maxLongSide/long, maxShort/short); s < 1 {
		fw, fh = fw*s, fh*s
	}
	W, H := round16(fw), round16(fh)
	// Rounding may push an extreme ratio just past 3:1.
	for W > int(maxRatio)*H {
		W -= sizeStep
	}
	for H > int(maxRatio)*W {
		H -= sizeStep
	}
	return fmt.Sprintf("%dx%d", W, H)
}

func round16(v float64) int {
	n := int(math.Round(v/sizeStep)) * sizeStep
	return max(n, sizeStep)
}
