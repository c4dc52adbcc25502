package pipeline

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"time"

	"frameforge"
	"frameforge/internal/imaging"
	"frameforge/internal/provider"
	"frameforge/internal/structure"
)

// StructureConfig turns the structural-change check on and sets where it
// flags (docs/structure.md).
type StructureConfig struct {
	On        bool
	Threshold float64 // 0 = structure.DefaultThreshold
}

// structureTimeout bounds each half of a check, decoding included: it is
// advice, and a result never waits long for it.
const structureTimeout = 10 * time.Second

// inputCheck is the input's half of a structural check, made while the
// provider works: the input is decoded and reduced to the check's working
// size at once, so the full-size photo (with its upload buffer, which an
// in-place preparation shares) need not be held until the answer comes.
type inputCheck struct {
	done   chan struct{}
	orig   *structure.Original // when done: the reduced input, or nil with err
	err    error
	w, h   int // the input's size, for the aspect check before any decode
	cancel context.CancelFunc
}

// startStructure begins the input's half of the check in its own
// goroutine and returns at once; nil when the check is off. The goroutine
// ends by itself (ctx, structureTimeout); abandon ends it early.
func (p *Pipeline) startStructure(ctx context.Context, input frameforge.Image) *inputCheck {
	if !p.cfg.Structure.On {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, structureTimeout)
	ic := &inputCheck{done: make(chan struct{}), w: input.Width, h: input.Height, cancel: cancel}
	go func() {
		defer close(ic.done)
		defer func() {
			if v := recover(); v != nil {
				ic.orig, ic.err = nil, fmt.Errorf("reducing the input panicked: %v", v)
			}
		}()
		ic.orig, ic.err = p.reduceInput(ctx, input)
	}()
	return ic
}

// abandon stops the input's half of a check whose result will not come.
func (ic *inputCheck) abandon() {
	if ic != nil {
		ic.cancel()
	}
}

// checkStructure compares the image sent to the provider (reduced by
// startStructure) with its raw answer (before anything is added to it) and
// returns the report, or nil when the check is off, does not apply (the
// development fallback, a result of another aspect ratio) or fails. It
// never fails the edit: a failure, a panic included, is logged and
// counted, and the result goes out without a report.
func (p *Pipeline) checkStructure(ctx context.Context, ic *inputCheck, output frameforge.Image, route provider.Route, requestID string) (rep *structure.Report) {
	if ic == nil {
		return nil
	}
	defer ic.cancel()
	start := time.Now()
	outcome := "error"
	defer func() {
		if v := recover(); v != nil {
			p.log.ErrorContext(ctx, "structure check panicked; the result goes out without it",
				"request_id", requestID, "provider", route.ID, "panic", fmt.Sprint(v))
			rep, outcome = nil, "error"
		}
		score := 0.0
		if rep != nil {
			score = rep.Score
		}
		p.m.ObserveStructure(route.Family, route.Model, outcome, score, time.Since(start))
	}()
	rep, err := p.runStructure(ctx, ic, output)
	switch {
	case errors.Is(err, structure.ErrNotComparable):
		outcome = "skipped"
		p.log.InfoContext(ctx, "structure check skipped", "request_id", requestID, "provider", route.ID, "reason", err.Error())
		return nil
	case err != nil:
		p.log.WarnContext(ctx, "structure check failed; the result goes out without it",
			"request_id", requestID, "provider", route.ID, "error", err.Error())
		return nil
	}
	outcome = "ok"
	if rep.Flagged {
		outcome = "flagged"
	}
	p.log.InfoContext(ctx, "structure check", "request_id", requestID, "provider", route.ID,
		"score", rep.Score, "flagged", rep.Flagged, "regions", len(rep.Regions), "duration", time.Since(start))
	return rep
}

// runStructure waits for the reduced input, decodes the answer, holding a
// CPU slot and the decode's memory like preparing does, and compares them.
func (p *Pipeline) runStructure(ctx context.Context, ic *inputCheck, output frameforge.Image) (*structure.Report, error) {
	// Another aspect ratio is another framing: not comparable, and no need
	// to decode anything to know it.
	if ic.w > 0 && ic.h > 0 && output.Width > 0 && output.Height > 0 {
		ai := float64(ic.w) / float64(ic.h)
		ao := float64(output.Width) / float64(output.Height)
		if math.Abs(ao/ai-1) > structure.MaxAspectChange {
			return nil, fmt.Errorf("%w: the result is %d×%d, the input %d×%d", structure.ErrNotComparable,
				output.Width, output.Height, ic.w, ic.h)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, structureTimeout)
	defer cancel()
	select {
	case <-ic.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if ic.err != nil {
		return nil, fmt.Errorf("the input: %w", ic.err)
	}
	res, release, err := p.decodeForCheck(ctx, output)
	if err != nil {
		return nil, fmt.Errorf("the result: %w", err)
	}
	defer release()
	return ic.orig.Check(ctx, res)
}

// reduceInput decodes the input and reduces it to the check's working size.
func (p *Pipeline) reduceInput(ctx context.Context, input frameforge.Image) (*structure.Original, error) {
	img, release, err := p.decodeForCheck(ctx, input)
	if err != nil {
		return nil, err
	}
	defer release()
	return structure.Reduce(img, structure.Options{Threshold: p.cfg.Structure.Threshold})
}

// decodeForCheck decodes one image of a check and holds a CPU slot and the
// decode's memory until release: the decoded picture is the caller's to
// use until then, and no longer.
func (p *Pipeline) decodeForCheck(ctx context.Context, img frameforge.Image) (image.Image, func(), error) {
	info, err := imaging.Inspect(img.Data)
	if err != nil {
		return nil, nil, err
	}
	cost := decodeCost(info)
	if cost > p.cfg.DecodeMemory {
		return nil, nil, fmt.Errorf("%w: decoding it needs about %s, over the decode budget", structure.ErrNotComparable, mib(cost))
	}
	release, err := p.decodeSlot(ctx, cost)
	if err != nil {
		return nil, nil, err
	}
	m, err := imaging.Decode(ctx, img.Data, info)
	if err != nil {
		release()
		return nil, nil, err
	}
	return m, release, nil
}
