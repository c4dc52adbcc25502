// Package presets is the catalog of room types and style presets that the
// staging page and API clients share (GET /api/presets), and the one place
// that turns a chosen room and style into a prompt.
//
// The entries and the wording are those of the staging page
// (web/static/assets/prompt.js): the same ids, labels and sentences, so a job
// submitted through the API with room_type and style gets the prompt the page
// would have sent.
package presets

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// RoomType is a kind of room to furnish.
type RoomType struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	// Noun names the room inside a sentence ("child's bedroom").
	Noun string `json:"noun"`
	// Furniture is what a furnished room of this type usually holds.
	Furniture string `json:"furniture"`
}

// Style is a furnishing style.
type Style struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	// Prompt says what makes the style recognisable; it follows "Style: ".
	Prompt string `json:"prompt"`
	// Name names the style inside a sentence ("mid-century modern").
	Name string `json:"name"`
}

// Catalog is every room type and style, in the order the page shows them,
// and the declutter preset.
type Catalog struct {
	RoomTypes []RoomType `json:"room_types"`
	Styles    []Style    `json:"styles"`
	Declutter Declutter  `json:"declutter"`
}

// Declutter empties a furnished or cluttered room, keeping the room itself:
// the other half of staging an occupied home. A job asks for it with
// declutter=true (docs/jobs.md); /api/edit takes its prompt as a prompt.
type Declutter struct {
	ID     string `json:"id"`
	Label  string `json:"label"`
	Prompt string `json:"prompt"`
}

// ErrUnknownPreset is matched (errors.Is) by the error Compose returns for an
// id that is not in the catalog; the API answers it with 400 invalid_preset.
var ErrUnknownPreset = errors.New("unknown preset")

// preserve is the page's "Keep walls, windows, floors and lighting as they
// are" switch, which is on by default; jobs always keep the architecture.
const preserve = "Preserve the architecture, walls, windows, floors, camera angle and natural lighting; add realistic shadows and reflections."

// Default returns the catalog. Each call returns fresh slices, so a caller
// may change its copy without changing anyone else's.
func Default() Catalog {
	return Catalog{
		Declutter: Declutter{ID: "declutter", Label: "Declutter (empty the room)",
			Prompt: "Remove all furniture, decor, personal belongings and clutter from this room, leaving it empty and clean. " +
				"Keep the architecture exactly as it is: walls, windows, doors, floors, ceiling, built-in fixtures, camera angle " +
				"and natural lighting; fill the uncovered floor and walls realistically, matching their material and light."},
		RoomTypes: []RoomType{
			{ID: "living-room", Label: "Living room", Noun: "living room", Furniture: "a sofa, armchairs, a coffee table, a rug, floor lamps and a few decorative accents"},
			{ID: "bedroom", Label: "Bedroom", Noun: "bedroom", Furniture: "a made bed with bedside tables and lamps, a rug, a dresser and soft textiles"},
			{ID: "kitchen", Label: "Kitchen", Noun: "kitchen", Furniture: "bar stools, a few styled countertop accessories, fresh fruit and plants"},
			{ID: "dining-room", Label: "Dining room", Noun: "dining room", Furniture: "a dining table with chairs, a pendant light, a rug and a sideboard"},
			{ID: "home-office", Label: "Home office", Noun: "home office", Furniture: "a desk, an ergonomic chair, shelving with books and a desk lamp"},
			{ID: "kids-room", Label: "Kids' room", Noun: "child's bedroom", Furniture: "a single bed, playful textiles, a reading corner and toy storage"},
			{ID: "bathroom", Label: "Bathroom", Noun: "bathroom", Furniture: "towels, a bath mat, plants and a few toiletries"},
			{ID: "patio", Label: "Patio / balcony", Noun: "outdoor patio", Furniture: "outdoor lounge seating, a small table, potted plants and string lights"},
		},
		Styles: []Style{
			{ID: "modern", Label: "Modern", Name: "modern", Prompt: "clean lines, neutral tones and matte black accents"},
			{ID: "scandinavian", Label: "Scandinavian", Name: "Scandinavian", Prompt: "light oak, white and soft grey textiles, simple functional pieces and cosy wool throws"},
			{ID: "industrial", Label: "Industrial", Name: "industrial", Prompt: "leather, dark metal, reclaimed wood and Edison-bulb lighting"},
			{ID: "boho", Label: "Boho", Name: "bohemian", Prompt: "rattan, layered patterned rugs, macramé, warm earthy colours and many plants"},
			{ID: "luxury", Label: "Luxury", Name: "luxury", Prompt: "velvet and marble, brass details, statement lighting and a refined, elegant palette"},
			{ID: "mid-century", Label: "Mid-century", Name: "mid-century modern", Prompt: "walnut wood, tapered legs, organic shapes and mustard and teal accents"},
			{ID: "coastal", Label: "Coastal", Name: "coastal", Prompt: "white and sand tones, linen, light blue accents, natural fibres and driftwood"},
			{ID: "farmhouse", Label: "Farmhouse", Name: "modern farmhouse", Prompt: "rustic wood, shiplap-white tones, black hardware and vintage touches"},
			{ID: "japandi", Label: "Japandi", Name: "Japandi", Prompt: "low furniture, pale wood, paper lighting, calm minimalism and muted earth tones"},
			{ID: "traditional", Label: "Traditional", Name: "classic traditional", Prompt: "rich wood, tufted upholstery, symmetry and timeless patterns"},
		},
	}
}

// Compose returns the prompt for a job.
//
// With prompt empty (or blank), the room type and style compose it in the
// page's words, keeping the architecture as the page does by default. With a
// prompt, it is kept as written and the presets follow it as context:
// "… Room: Living room. Style: Scandinavian: light oak, …". With nothing at
// all it returns "", and the caller uses the default prompt.
//
// An id that is not in the catalog is an error (matching ErrUnknownPreset)
// whose text tells a person the valid ids.
func (c Catalog) Compose(prompt, roomType, style string) (string, error) {
	var room *RoomType
	var sty *Style
	if roomType != "" {
		i := slices.IndexFunc(c.RoomTypes, func(r RoomType) bool { return r.ID == roomType })
		if i < 0 {
			return "", &unknownError{kind: "room type", id: roomType, valid: ids(c.RoomTypes, func(r RoomType) string { return r.ID })}
		}
		room = &c.RoomTypes[i]
	}
	if style != "" {
		i := slices.IndexFunc(c.Styles, func(s Style) bool { return s.ID == style })
		if i < 0 {
			return "", &unknownError{kind: "style", id: style, valid: ids(c.Styles, func(s Style) string { return s.ID })}
		}
		sty = &c.Styles[i]
	}

	if strings.TrimSpace(prompt) != "" {
		if room == nil && sty == nil {
			return prompt, nil
		}
		parts := []string{sentence(prompt)}
		if room != nil {
			parts = append(parts, "Room: "+room.Label+".")
		}
		if sty != nil {
			parts = append(parts, "Style: "+sty.Label+": "+sty.Prompt+".")
		}
		return strings.Join(parts, " "), nil
	}

	var first string
	switch {
	case room != nil && sty != nil:
		first = fmt.Sprintf("Virtually stage this empty room as %s %s %s with %s.", article(sty.Name), sty.Name, room.Noun, room.Furniture)
	case room != nil:
		first = fmt.Sprintf("Virtually stage this empty room as a tastefully furnished %s with %s.", room.Noun, room.Furniture)
	case sty != nil:
		first = fmt.Sprintf("Virtually stage this room with furniture and decor in %s %s style.", article(sty.Name), sty.Name)
	default:
		return "", nil
	}
	parts := []string{first}
	if sty != nil {
		parts = append(parts, "Style: "+sty.Prompt+".")
	}
	parts = append(parts, preserve)
	return strings.Join(parts, " "), nil
}

type unknownError struct {
	kind, id string
	valid    []string
}

func (e *unknownError) Error() string {
	return fmt.Sprintf("Unknown %s %q: choose one of %s.", e.kind, e.id, strings.Join(e.valid, ", "))
}

func (e *unknownError) Is(target error) bool { return target == ErrUnknownPreset }

// article is "an" before a vowel, as the page decides it ("an industrial").
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiouAEIOU", rune(word[0])) {
		return "an"
	}
	return "a"
}

// sentence trims text and ends it with a full stop unless it already ends a
// sentence, so the context that follows starts a sentence of its own.
func sentence(text string) string {
	t := strings.TrimSpace(text)
	if strings.HasSuffix(t, ".") || strings.HasSuffix(t, "!") || strings.HasSuffix(t, "?") {
		return t
	}
	return t + "."
}

func ids[T any](s []T, id func(T) string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = id(v)
	}
	return out
}
