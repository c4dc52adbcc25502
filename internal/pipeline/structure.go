package pipeline

import (
	"context"
	"errors"
	"fmt"
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

// structureTimeout bounds one check, decoding included: it is advice, and
// a result never waits long for it.
const structureTimeout = 10 * time.Second

// checkStructure compares the image sent to the provider with its raw
// answer (before anything is added to it) and returns the report, or nil
// when the check is off, does not apply (the development fallback, a
// result of another aspect ratio) or fails. It never fails the edit: a
// failure, a panic included, is logged and counted, and the result goes
// out without a report.
func (p *Pipeline) checkStructure(ctx context.Context, input, output frameforge.Image, route provider.Route, requestID string) (rep *structure.Report) {
	if !p.cfg.Structure.On {
		return nil
	}
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
	rep, err := p.runStructure(ctx, input, output)
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

// runStructure decodes both images, holding a CPU slot and their decodes'
// memory like preparing does, and compares them.
func (p *Pipeline) runStructure(ctx context.Context, input, output frameforge.Image) (*structure.Report, error) {
	// Another aspect ratio is another framing: not comparable, and no need
	// to decode anything to know it.
	if input.Width > 0 && input.Height > 0 && output.Width > 0 && output.Height > 0 {
		ai := float64(input.Width) / float64(input.Height)
		ao := float64(output.Width) / float64(output.Height)
		if math.Abs(ao/ai-1) > structure.MaxAspectChange {
			return nil, fmt.Errorf("%w: the result is %d×%d, the input %d×%d", structure.ErrNotComparable,
				output.Width, output.Height, input.Width, input.Height)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, structureTimeout)
	defer cancel()
	inInfo, err := imaging.Inspect(input.Data)
	if err != nil {
		return nil, fmt.Errorf("the input: %w", err)
	}
	outInfo, err := imaging.Inspect(output.Data)
	if err != nil {
		return nil, fmt.Errorf("the result: %w", err)
	}
	cost := decodeCost(inInfo) + decodeCost(outInfo)
	if cost > p.cfg.DecodeMemory {
		return nil, fmt.Errorf("%w: decoding both images needs about %s, over the decode budget", structure.ErrNotComparable, mib(cost))
	}
	if err := p.memory.Acquire(ctx, cost); err != nil {
		return nil, err
	}
	defer p.memory.Release(cost)
	if err := p.cpu.Acquire(ctx, 1); err != nil {
		return nil, err
	}
	defer p.cpu.Release(1)
	orig, err := imaging.Decode(ctx, input.Data, inInfo)
	if err != nil {
		return nil, fmt.Errorf("decoding the input: %w", err)
	}
	res, err := imaging.Decode(ctx, output.Data, outInfo)
	if err != nil {
		return nil, fmt.Errorf("decoding the result: %w", err)
	}
	return structure.Check(ctx, orig, res, structure.Options{Threshold: p.cfg.Structure.Threshold})
}
