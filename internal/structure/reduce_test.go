package structure

import (
	"context"
	"errors"
	"image"
	"reflect"
	"testing"
)

// A reduced Original gives the report Check gives, and is only read: the
// pipeline reduces the input while the provider works and checks the
// answer against it afterwards.
func TestReducedOriginalChecksLikeCheck(t *testing.T) {
	orig, res, ok := makePair(tuneSeed0+3, "window_removed")
	if !ok {
		t.Fatal("the corpus case does not apply to this seed")
	}
	ctx := context.Background()
	want, err := Check(ctx, orig, res.img, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !want.Flagged {
		t.Fatalf("a removed window is not flagged (%+v): pick another seed", want)
	}
	o, err := Reduce(orig, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		got, err := o.Check(ctx, res.img)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("check %d of the reduced original = %+v; want %+v", i+1, got, want)
		}
	}
	// The same Original against the unchanged room: not flagged.
	same, _, _ := makePair(tuneSeed0+3, "furnished")
	if got, err := o.Check(ctx, same); err != nil || got.Flagged {
		t.Errorf("the original against itself = %+v, %v; want not flagged", got, err)
	}
}

func TestReduceRefusesATinyOriginal(t *testing.T) {
	if _, err := Reduce(image.NewGray(image.Rect(0, 0, 12, 40)), Options{}); !errors.Is(err, ErrNotComparable) {
		t.Errorf("Reduce of a 12×40 image: %v; want ErrNotComparable", err)
	}
}
