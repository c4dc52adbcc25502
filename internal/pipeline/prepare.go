package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"frameforge"
	"frameforge/internal/admission"
	"frameforge/internal/imaging"
)

// CheckImage checks one photo before anything is done with it: not empty, a
// supported image, complete, within the pixel limit (read from the header, so
// a tiny file claiming 30000×30000 is refused at once). name is the client's
// file name, already safe to show.
func CheckImage(data []byte, name string, maxPixels int64) (Upload, error) {
	if len(data) == 0 {
		return Upload{}, frameforge.Errorf(frameforge.EInvalidImage, "File %q is empty.", name)
	}
	info, err := imaging.Inspect(data)
	if px := info.Pixels(); maxPixels > 0 && px > maxPixels {
		return Upload{}, frameforge.Errorf(frameforge.ETooManyPixels,
			"File %q is %d×%d pixels (%s); the limit is %s per image.",
			name, info.Width, info.Height, megapixels(px), megapixels(maxPixels))
	}
	if err != nil {
		// Inspect fails only on the file itself.
		fe, _ := InputError(err, name, info.ContentType)
		return Upload{}, fe
	}
	return Upload{
		Image: frameforge.Image{Data: data, ContentType: info.ContentType, Filename: name, Width: info.Width, Height: info.Height},
		Info:  info,
	}, nil
}

// InputError turns an imaging error about the client's file into its
// answer, and reports whether it was one: imaging marks every problem of
// the input with a sentinel. Any other error is corrupt data to Inspect, and
// our own failure to Prepare.
func InputError(err error, name, contentType string) (*frameforge.Error, bool) {
	switch {
	case errors.Is(err, imaging.ErrTooComplex): // before ErrUnsupported, which it wraps
		return frameforge.Wrap(err, frameforge.EImageTooComplex, fmt.Sprintf(
			"File %q is too costly to decode (for example a JPEG with an absurd number of progressive scans); "+
				"save it again as a standard JPEG or PNG.", name)), true
	case errors.Is(err, imaging.ErrUnsupported):
		return frameforge.Wrap(err, frameforge.EUnsupportedImage, unsupportedMessage(name, contentType)), true
	case errors.Is(err, imaging.ErrNotImage):
		return frameforge.Wrap(err, frameforge.EInvalidImage, fmt.Sprintf(
			"File %q is not an image (sniffed %s).", name, contentType)), true
	case errors.Is(err, imaging.ErrTruncated):
		return frameforge.Wrap(err, frameforge.EInvalidImage, fmt.Sprintf(
			"File %q is truncated: the image data ends early, so the upload was probably cut off.", name)), true
	}
	corrupt := frameforge.Wrap(err, frameforge.EInvalidImage, fmt.Sprintf(
		"File %q is not a valid %s image: its data is corrupt.", name, formatName(contentType)))
	return corrupt, errors.Is(err, imaging.ErrCorrupt) || errors.Is(err, imaging.ErrEmpty)
}

// unsupportedMessage explains a recognised but unsupported image and what to
// do about it.
func unsupportedMessage(name, contentType string) string {
	switch contentType {
	case imaging.TypeHEIC, imaging.TypeHEIF, imaging.TypeAVIF:
		// HEIC and AVIF photos are taken; what is refused here is a kind
		// of file in those containers with no still image to read. People
		// know the format by its name ("HEIC"), not its media type.
		format := strings.ToUpper(strings.TrimPrefix(contentType, "image/"))
		return fmt.Sprintf("File %q (%s) holds no still photo this server can read (for example an image "+
			"sequence or an unusual coding); send the photo itself as HEIC, JPEG or PNG.", name, format)
	}
	return fmt.Sprintf("File %q is a kind of %s image this server cannot read (for example an animated or "+
		"arithmetic-coded image); save it as a standard JPEG or PNG.", name, formatName(contentType))
}

// formatName is the name people use for an image type ("image/heic" →
// "HEIC"), so sentences read "a valid PNG image" and need no article that
// depends on how a MIME type is pronounced.
func formatName(contentType string) string {
	name, ok := strings.CutPrefix(contentType, "image/")
	if !ok {
		return contentType
	}
	if name == "webp" {
		return "WebP"
	}
	return strings.ToUpper(name)
}

func megapixels(px int64) string {
	return fmt.Sprintf("%.1f MP", float64(px)/1e6)
}

// prepare makes each upload ready to leave the server: upright, without
// metadata, no larger than the model uses (Prepare.MaxSide), and all together
// within the provider's request budget (UpstreamBytes; Gemini takes about
// 20 MB of inline data, base64 included). An image over its share of the
// budget is prepared once more at the size that fits. See imaging.Prepare.
// Each image is prepared holding a CPU slot and its decode's memory.
func (p *Pipeline) prepare(ctx context.Context, ups []Upload) ([]frameforge.Image, error) {
	out := make([]frameforge.Image, len(ups))
	share := p.cfg.UpstreamBytes / int64(len(ups))
	opt := p.cfg.Prepare
	// The uploads are the caller's to give up: nothing reads them after
	// this point, so stripping may compact them in place instead of copying.
	opt.InPlace = true
	for i, u := range ups {
		release, err := p.takePrepareSlot(ctx, u)
		if err != nil {
			return nil, err
		}
		pr, err := imaging.Prepare(ctx, u.Image.Data, u.Info, opt)
		if err == nil && share > 0 && int64(len(pr.Data)) > share {
			// JPEG size grows about with the pixel count: shrink the sides by
			// the square root of the excess, with a margin for the estimate.
			// pr.Data is the input now: in place, the upload itself is gone.
			o := opt
			o.MaxSide = int(float64(max(pr.Width, pr.Height)) * math.Sqrt(float64(share)/float64(len(pr.Data))) * 0.9)
			pr, err = imaging.Prepare(ctx, pr.Data, imaging.Info{}, o)
		}
		release()
		if err != nil && ctx.Err() != nil {
			// The client is gone or out of time: neither its photo's fault
			// nor an encoder failure.
			return nil, preparingStopped(ctx, err)
		}
		if err != nil {
			return nil, prepareError(err, u)
		}
		out[i] = frameforge.Image{Data: pr.Data, ContentType: pr.ContentType, Filename: u.Image.Filename,
			Width: pr.Width, Height: pr.Height}
	}
	return out, nil
}

// takePrepareSlot waits, at most SlotTimeout, for a core and for the
// decode's estimated memory. An image whose decode alone would exceed the
// whole budget is refused: waiting would never help.
func (p *Pipeline) takePrepareSlot(ctx context.Context, u Upload) (release func(), err error) {
	cost := decodeCost(u.Info)
	if cost > p.cfg.DecodeMemory {
		return nil, frameforge.Errorf(frameforge.EImageTooComplex,
			"File %q would need about %s of memory to decode (%d×%d pixels); this server allows %s. Send a smaller or simpler image.",
			u.Image.Filename, mib(cost), u.Info.Width, u.Info.Height, mib(p.cfg.DecodeMemory))
	}
	wctx, cancel := context.WithTimeout(ctx, p.cfg.SlotTimeout)
	defer cancel()
	release, err = p.decodeSlot(wctx, cost)
	if err != nil {
		return nil, p.slotWaitError(ctx, err)
	}
	return release, nil
}

// decodeSlot waits for a core and for cost bytes of the decode budget: the
// slot every decode holds, for preparing, for the disclosure label and for
// the structure check.
func (p *Pipeline) decodeSlot(ctx context.Context, cost int64) (release func(), err error) {
	if err := p.memory.Acquire(ctx, cost); err != nil {
		return nil, err
	}
	if err := p.cpu.Acquire(ctx, 1); err != nil {
		p.memory.Release(cost)
		return nil, err
	}
	return func() { p.cpu.Release(1); p.memory.Release(cost) }, nil
}

// slotWaitError names a preparing slot's wait that ended: our own timeout
// (busy), the edit's deadline, or the client gone (ctx's error as it is).
func (p *Pipeline) slotWaitError(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		p.m.EditRefused("prepare_timeout")
		err = admission.ErrTimeout
	} else {
		err = ctx.Err()
	}
	return p.waitError(ctx, err, "slot to prepare the images")
}

// preparingStopped names an edit stopped while its images were prepared: the
// client left (ctx's error as it is), or the edit's time limit ran out.
func preparingStopped(ctx context.Context, err error) error {
	if ctx.Err() == context.DeadlineExceeded {
		return &frameforge.Error{Code: frameforge.EOverloaded, RetryAfter: time.Second, Err: err,
			Message: "The server is busy: the edit's time limit ran out while its images were being prepared."}
	}
	return ctx.Err()
}

// prepareError tells the client's bad photo (a decode that fails: 4xx, as
// when Inspect refuses it) from our own failure (an encoder error: 500).
func prepareError(err error, u Upload) error {
	if fe, ok := InputError(err, u.Image.Filename, u.Info.ContentType); ok {
		return fe
	}
	return frameforge.Wrap(err, frameforge.EInternal, "The server failed to prepare the images.")
}

// decodeCost is imaging's worst-case estimate of what a full Prepare of the
// image allocates, from its header: format, coding, components, bit depth
// (docs/imaging.md, "Decode memory").
func decodeCost(info imaging.Info) int64 { return max(info.DecodeBytes(), 1) }

func mib(n int64) string { return humanize.IBytes(uint64(max(n, 0))) }
