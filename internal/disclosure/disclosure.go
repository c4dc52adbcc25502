// Package disclosure draws the "Virtually staged" notice that listing rules
// (many MLS boards, some laws) require on an altered photo: a small
// semi-opaque box with one line of text in a corner of the result, the rest
// of the picture untouched, the same size and format. The font, Go Medium
// (golang.org/x/image/font/gofont, BSD licence), is compiled into the binary,
// so the label looks the same on every server. See docs/imaging.md.
package disclosure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gomedium"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	_ "image/gif"

	_ "golang.org/x/image/webp" // results may be WebP; they are labelled and written as PNG
)

// Mode is the server's policy.
type Mode string

const (
	// Off: no label; a request asking for one is refused, so nobody
	// publishes an unlabelled photo believing it labelled.
	Off Mode = "off"
	// Optional: a label when the request says disclosure=true.
	Optional Mode = "optional"
	// Always: a label on every result, whatever the request says.
	Always Mode = "always"
)

// Position is the corner the label sits in.
type Position string

// The corners.
const (
	BottomRight Position = "bottom-right"
	BottomLeft  Position = "bottom-left"
	TopRight    Position = "top-right"
	TopLeft     Position = "top-left"
)

// DefaultText is the label unless DISCLOSURE_TEXT says otherwise.
const DefaultText = "Virtually staged"

// MaxTextRunes bounds the label: it must stay a small notice in a corner.
const MaxTextRunes = 60

// Config is the server's disclosure policy.
type Config struct {
	Mode     Mode
	Text     string
	Position Position
}

// ParseMode, ParsePosition and CheckText validate configuration values.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case Off, Optional, Always:
		return m, nil
	}
	return "", fmt.Errorf("must be off, optional or always, not %q", s)
}

// ParsePosition reads a corner name.
func ParsePosition(s string) (Position, error) {
	switch p := Position(strings.ToLower(strings.TrimSpace(s))); p {
	case BottomRight, BottomLeft, TopRight, TopLeft:
		return p, nil
	}
	return "", fmt.Errorf("must be bottom-right, bottom-left, top-right or top-left, not %q", s)
}

// CheckText accepts 1 to MaxTextRunes printable characters that the
// embedded font can draw.
func CheckText(s string) error {
	n := utf8.RuneCountInString(s)
	if strings.TrimSpace(s) == "" || n > MaxTextRunes {
		return fmt.Errorf("must be 1 to %d characters", MaxTextRunes)
	}
	f, err := fontFace()
	if err != nil {
		return err
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("has a control character")
		}
		if _, ok := f.GlyphAdvance(r); !ok {
			return fmt.Errorf("has %q, which the embedded font cannot draw", r)
		}
	}
	return nil
}

// ErrRefused is a request for a label on a server whose mode is off.
var ErrRefused = errors.New("disclosure: labels are off on this server")

// Want resolves a request's disclosure field ("" when absent) against the
// policy: off refuses "true" (ErrRefused), always labels whatever the field
// says, optional labels on "true". Anything but true/false/1/0/yes/no/on/off
// is an error.
func (c Config) Want(asked bool) (bool, error) {
	switch c.Mode {
	case Always:
		return true, nil
	case Optional:
		return asked, nil
	}
	if asked {
		return false, ErrRefused
	}
	return false, nil
}

// JPEGQuality is used to write a labelled JPEG again: high, since the photo
// is re-encoded once more after the provider's own encoding.
const JPEGQuality = 95

// Apply draws the label on an encoded image and encodes it again in its own
// format: JPEG stays JPEG (quality JPEGQuality), PNG stays PNG (losslessly:
// every pixel outside the label is the same); WebP and GIF, which Go cannot
// write, become PNG. It returns the new bytes and their content type.
func (c Config) Apply(ctx context.Context, data []byte) ([]byte, string, error) {
	src, format, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, "", fmt.Errorf("disclosure: decode: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	img := c.Draw(src)
	var out bytes.Buffer
	out.Grow(len(data) + len(data)/8)
	if format == "jpeg" {
		err = jpeg.Encode(&out, img, &jpeg.Options{Quality: JPEGQuality})
		return out.Bytes(), "image/jpeg", err
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	err = enc.Encode(&out, img)
	return out.Bytes(), "image/png", err
}

// Draw returns a copy of img with the label drawn in the configured corner.
// The label's height is about 4 % of the shorter side (at least 11 px of
// text), with a margin of the same order from the edges; text wider than
// half the image is set smaller.
func (c Config) Draw(img image.Image) draw.Image {
	b := img.Bounds()
	var dst draw.Image = image.NewRGBA(b)
	if _, ok := img.(*image.NRGBA); ok {
		dst = image.NewNRGBA(b) // keeps transparent pixels exactly as they were
	}
	draw.Draw(dst, b, img, b.Min, draw.Src)
	text := c.Text
	if text == "" {
		text = DefaultText
	}
	short := min(b.Dx(), b.Dy())
	size := max(11.0, float64(short)*0.032)
	face, err := sizedFace(size)
	if err != nil {
		return dst
	}
	adv := font.MeasureString(face, text).Ceil()
	if maxW := b.Dx() / 2; adv > maxW && adv > 0 {
		size = max(6, size*float64(maxW)/float64(adv))
		if face, err = sizedFace(size); err != nil {
			return dst
		}
		adv = font.MeasureString(face, text).Ceil()
	}
	m := face.Metrics()
	pad := max(2, int(size*0.45))
	boxW := adv + 2*pad
	boxH := (m.Ascent + m.Descent).Ceil() + 2*pad
	margin := max(2, short/40)
	x0, y0 := b.Max.X-margin-boxW, b.Max.Y-margin-boxH
	switch c.Position {
	case BottomLeft:
		x0 = b.Min.X + margin
	case TopRight:
		y0 = b.Min.Y + margin
	case TopLeft:
		x0, y0 = b.Min.X+margin, b.Min.Y+margin
	}
	box := image.Rect(x0, y0, x0+boxW, y0+boxH).Intersect(b)
	// Black at 62 % over the photo: the white text stands out on any
	// background, and the room still shows through.
	draw.Draw(dst, box, image.NewUniform(color.NRGBA{0, 0, 0, 158}), image.Point{}, draw.Over)
	d := font.Drawer{Dst: dst, Src: image.NewUniform(color.White), Face: face,
		Dot: fixed.Point26_6{X: fixed.I(x0 + pad), Y: fixed.I(y0+pad) + m.Ascent}}
	d.DrawString(text)
	return dst
}

// The font is parsed once per process; faces are made per label, since a
// face is not safe for concurrent use.
var (
	parsed    *opentype.Font
	parseErr  error
	parseOnce sync.Once
	checkFace font.Face // used only by CheckText, at start-up
)

func fontFace() (font.Face, error) {
	parseOnce.Do(func() {
		parsed, parseErr = opentype.Parse(gomedium.TTF)
		if parseErr == nil {
			checkFace, parseErr = opentype.NewFace(parsed, &opentype.FaceOptions{Size: 12, DPI: 72})
		}
	})
	return checkFace, parseErr
}

// sizedFace returns the font at a size in pixels. Faces are not safe for
// concurrent use, so each call gets its own; parsing happens once.
func sizedFace(px float64) (font.Face, error) {
	if _, err := fontFace(); err != nil {
		return nil, err
	}
	return opentype.NewFace(parsed, &opentype.FaceOptions{Size: px, DPI: 72, Hinting: font.HintingFull})
}
