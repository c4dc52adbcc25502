package pipeline

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"testing"

	"frameforge/internal/imaging/imagingtest"
	"frameforge/internal/provider/gemini/geminitest"
)

func pngOf(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// uprightPhoto is a 320×240 photo with no orientation to apply, so the
// prepared input has the answer's shape.
func uprightPhoto(t *testing.T) (Upload, image.Image) {
	t.Helper()
	img := imagingtest.Photo(t, 320, 240)
	u, err := CheckImage(imagingtest.JPEG(t, img, 90), "room.jpg", 40_000_000)
	if err != nil {
		t.Fatal(err)
	}
	return u, img
}

// Every result carries the structural check of the raw answer against the
// prepared input; an unchanged picture is not flagged.
func TestResultCarriesTheStructureCheck(t *testing.T) {
	cfg := testCfg()
	cfg.Structure = StructureConfig{On: true}
	r := newRig(t, cfg, 2)
	up, img := uprightPhoto(t)
	r.fake.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly, Image: pngOf(t, img)})
	res, err := r.run(t, context.Background(), Input{Uploads: []Upload{up}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Structure == nil {
		t.Fatal("no structure report on the result")
	}
	if res.Structure.Flagged || res.Structure.Score > 0.2 || res.Structure.Regions == nil {
		t.Errorf("the unchanged picture got %+v; want a low, unflagged score", res.Structure)
	}
}

// Off, or an answer of another shape (another framing of the room): no
// report, and the edit succeeds all the same.
func TestStructureCheckOffOrNotComparable(t *testing.T) {
	up, img := uprightPhoto(t)
	square := imagingtest.Photo(t, 300, 300)
	tests := []struct {
		name   string
		on     bool
		answer image.Image
	}{
		{"off", false, img},
		{"another aspect ratio", true, square},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testCfg()
			cfg.Structure = StructureConfig{On: tt.on}
			r := newRig(t, cfg, 2)
			r.fake.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly, Image: pngOf(t, tt.answer)})
			res, err := r.run(t, context.Background(), Input{Uploads: []Upload{up}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Structure != nil {
				t.Errorf("structure = %+v; want none", res.Structure)
			}
			if res.Image.Width != tt.answer.Bounds().Dx() {
				t.Errorf("the result is %d px wide; want the answer's %d", res.Image.Width, tt.answer.Bounds().Dx())
			}
		})
	}
}
