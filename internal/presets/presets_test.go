package presets_test

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"frameforge/internal/presets"
)

func TestIDsUnique(t *testing.T) {
	c := presets.Default()
	seen := map[string]bool{}
	for _, r := range c.RoomTypes {
		if r.ID == "" || r.Label == "" || r.Noun == "" || r.Furniture == "" {
			t.Errorf("room type %+v has an empty field", r)
		}
		if seen["room:"+r.ID] {
			t.Errorf("room type id %q appears twice", r.ID)
		}
		seen["room:"+r.ID] = true
	}
	for _, s := range c.Styles {
		if s.ID == "" || s.Label == "" || s.Name == "" || s.Prompt == "" {
			t.Errorf("style %+v has an empty field", s)
		}
		if seen["style:"+s.ID] {
			t.Errorf("style id %q appears twice", s.ID)
		}
		seen["style:"+s.ID] = true
	}
}

func TestCompose(t *testing.T) {
	const preserve = "Preserve the architecture, walls, windows, floors, camera angle and natural lighting; add realistic shadows and reflections."
	tests := []struct {
		name, prompt, room, style, want string
	}{
		{"nothing", "", "", "", ""},
		{"blank prompt is nothing", "  ", "", "", ""},
		{"prompt alone is kept as written", "make it cosy", "", "", "make it cosy"},
		{"room and style", "", "living-room", "scandinavian",
			"Virtually stage this empty room as a Scandinavian living room with a sofa, armchairs, a coffee table, a rug, floor lamps and a few decorative accents. " +
				"Style: light oak, white and soft grey textiles, simple functional pieces and cosy wool throws. " + preserve},
		{"an before a vowel", "", "home-office", "industrial",
			"Virtually stage this empty room as an industrial home office with a desk, an ergonomic chair, shelving with books and a desk lamp. " +
				"Style: leather, dark metal, reclaimed wood and Edison-bulb lighting. " + preserve},
		{"room alone", "", "kids-room", "",
			"Virtually stage this empty room as a tastefully furnished child's bedroom with a single bed, playful textiles, a reading corner and toy storage. " + preserve},
		{"style alone", "", "", "japandi",
			"Virtually stage this room with furniture and decor in a Japandi style. " +
				"Style: low furniture, pale wood, paper lighting, calm minimalism and muted earth tones. " + preserve},
		{"prompt with presets as context", "Add a reading nook by the window", "living-room", "scandinavian",
			"Add a reading nook by the window. Room: Living room. Style: Scandinavian: light oak, white and soft grey textiles, simple functional pieces and cosy wool throws."},
		{"prompt with room only", "Keep the piano!", "dining-room", "",
			"Keep the piano! Room: Dining room."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := presets.Default().Compose(tt.prompt, tt.room, tt.style)
			if err != nil {
				t.Fatalf("Compose(%q, %q, %q) error: %v", tt.prompt, tt.room, tt.style, err)
			}
			if got != tt.want {
				t.Errorf("Compose(%q, %q, %q) =\n%q\nwant\n%q", tt.prompt, tt.room, tt.style, got, tt.want)
			}
		})
	}
}

func TestComposeUnknown(t *testing.T) {
	tests := []struct {
		room, style, want string
	}{
		{"living_room", "modern", `Unknown room type "living_room": choose one of living-room, bedroom, kitchen, dining-room, home-office, kids-room, bathroom, patio.`},
		{"bedroom", "gothic", `Unknown style "gothic": choose one of modern, scandinavian, industrial, boho, luxury, mid-century, coastal, farmhouse, japandi, traditional.`},
	}
	for _, tt := range tests {
		got, err := presets.Default().Compose("", tt.room, tt.style)
		if err == nil {
			t.Errorf("Compose(%q, %q) = %q, want an error", tt.room, tt.style, got)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("Compose(%q, %q) error =\n%s\nwant\n%s", tt.room, tt.style, err, tt.want)
		}
		if !errors.Is(err, presets.ErrUnknownPreset) {
			t.Errorf("Compose(%q, %q) error %v does not match ErrUnknownPreset", tt.room, tt.style, err)
		}
	}
}

// TestSameAsPage reads the staging page's own catalog (prompt.js) and checks
// that the server's has the same entries in the same order and words, until
// the page fetches GET /api/presets instead of keeping its copy.
func TestSameAsPage(t *testing.T) {
	src, err := os.ReadFile("../../web/static/assets/prompt.js")
	if err != nil {
		t.Fatal(err)
	}
	js := string(src)
	section := func(name string) []map[string]string {
		start := strings.Index(js, "export const "+name+" = [")
		if start < 0 {
			t.Fatalf("prompt.js has no %s", name)
		}
		body := js[start : start+strings.Index(js[start:], "];")]
		field := regexp.MustCompile(`(\w+): (?:'([^']*)'|"([^"]*)")`)
		var out []map[string]string
		for _, line := range strings.Split(body, "\n") {
			m := field.FindAllStringSubmatch(line, -1)
			if m == nil {
				continue
			}
			entry := map[string]string{}
			for _, f := range m {
				entry[f[1]] = f[2] + f[3]
			}
			out = append(out, entry)
		}
		return out
	}

	var page, ours []string
	for _, r := range section("ROOMS") {
		page = append(page, r["id"]+"|"+r["label"]+"|"+r["noun"]+"|"+r["furniture"])
	}
	for _, s := range section("STYLES") {
		page = append(page, s["id"]+"|"+s["label"]+"|"+s["name"]+"|"+s["detail"])
	}
	c := presets.Default()
	for _, r := range c.RoomTypes {
		ours = append(ours, r.ID+"|"+r.Label+"|"+r.Noun+"|"+r.Furniture)
	}
	for _, s := range c.Styles {
		ours = append(ours, s.ID+"|"+s.Label+"|"+s.Name+"|"+s.Prompt)
	}
	if strings.Join(ours, "\n") != strings.Join(page, "\n") {
		t.Errorf("catalog differs from prompt.js:\nours:\n%s\npage:\n%s", strings.Join(ours, "\n"), strings.Join(page, "\n"))
	}
	got, _ := c.Compose("", "bedroom", "")
	if m := regexp.MustCompile(`const PRESERVE =\s*'([^']*)'`).FindStringSubmatch(js); m == nil || !strings.HasSuffix(got, " "+m[1]) {
		t.Errorf("prompt.js's PRESERVE sentence is not the one Compose ends with: %q", got)
	}
}
