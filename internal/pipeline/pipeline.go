// Package pipeline is the edit itself, from checked photos to a checked
// answer: prepare the images (a CPU and memory slot), take a provider slot,
// call the provider, check what came back. It knows nothing of HTTP: the
// synchronous API and a job worker run the same steps and get the same error
// codes, and only the HTTP boundary turns those codes into statuses.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"time"

	"golang.org/x/sync/semaphore"

	"frameforge"
	"frameforge/internal/admission"
	"frameforge/internal/disclosure"
	"frameforge/internal/imaging"
	"frameforge/internal/metrics"
	"frameforge/internal/provider"
	"frameforge/internal/structure"
)

// Config is what the pipeline needs to know.
type Config struct {
	Prepare       imaging.Options
	UpstreamBytes int64             // all prepared images of one edit together; 0 = no budget
	MaxPixels     int64             // the largest answer accepted from a provider, in pixels
	SlotTimeout   time.Duration     // longest wait for a preparing slot or a provider slot
	DecodeMemory  int64             // bytes that image decodes together may hold (an estimate per image)
	Disclosure    disclosure.Config // the label drawn when an edit asks for one (its text and corner)
	Structure     StructureConfig
}

// Upload is one photo that passed the input checks (CheckImage).
type Upload struct {
	Image frameforge.Image
	Info  imaging.Info
}

// Input is one edit, ready to prepare.
type Input struct {
	Uploads   []Upload
	Prompt    string // empty means frameforge.DefaultPrompt
	Route     provider.Route
	RequestID string           // for log lines; "" when there is none
	Fallbacks []provider.Route // tried in turn, same images, while a provider fails in a way the next might not (callChain)
	// Disclose draws the "Virtually staged" label (Config.Disclosure) on
	// the result; the caller has resolved the server's policy.
	Disclose bool
}

// Result is a finished edit.
type Result struct {
	Image    frameforge.Image
	Provider string    // the id of the route that did the work: "google", "fal:<model>"
	Model    string    // its model
	Tried    []Attempt // every provider called, in order, the last the one that answered; empty for the development fallback
	Fallback bool      // no key anywhere: the first upload, unchanged (development fallback)
	Labelled bool      // the disclosure label is drawn on Image
	// Structure is the structural-change check of the raw result against
	// the first prepared input; nil when off, not applicable or failed.
	Structure *structure.Report
}

// Attempt is one provider call of an edit.
type Attempt struct {
	Provider string `json:"provider"`       // the route id
	Model    string `json:"model"`          // its model
	Code     string `json:"code,omitempty"` // the error code it failed with; empty when it answered
}

// Pipeline runs edits. It is safe for concurrent use.
type Pipeline struct {
	cfg  Config
	gate *admission.Gate
	m    *metrics.Metrics
	log  *slog.Logger
	// Preparing images is CPU work: more decodes at once than there are
	// cores only adds memory, not speed. And a decode's memory depends on
	// the image, not on its bytes on the wire, so decodes are also admitted
	// by their estimated cost against a memory budget.
	cpu    *semaphore.Weighted
	memory *semaphore.Weighted
}

// New returns a pipeline that admits edits through gate and records them
// in m.
func New(cfg Config, gate *admission.Gate, m *metrics.Metrics, log *slog.Logger) *Pipeline {
	if cfg.DecodeMemory <= 0 {
		cfg.DecodeMemory = math.MaxInt64
	}
	return &Pipeline{cfg: cfg, gate: gate, m: m, log: log,
		cpu:    semaphore.NewWeighted(int64(runtime.GOMAXPROCS(0))),
		memory: semaphore.NewWeighted(cfg.DecodeMemory),
	}
}

// Gate is the admission gate the pipeline uses.
func (p *Pipeline) Gate() *admission.Gate { return p.gate }

// Admit takes a place for one edit without waiting, or refuses with
// EOverloaded. Take it before reading an upload: that bounds the bytes
// held in memory by the number of places.
func (p *Pipeline) Admit() (*admission.Ticket, error) {
	t, err := p.gate.Admit()
	if err != nil {
		p.m.EditRefused("queue_full")
		return nil, &frameforge.Error{Code: frameforge.EOverloaded, RetryAfter: p.gate.RetryAfter(), Err: err,
			Message: "The server is busy with other edits; try again shortly."}
	}
	return t, nil
}

// Run performs one admitted edit: prepare the images, take a provider slot,
// call the provider, check the answer. With no key for the route it answers
// with the first upload (the development fallback). ctx bounds everything;
// a deadline is reported as what it interrupted.
func (p *Pipeline) Run(ctx context.Context, t *admission.Ticket, in Input) (Result, error) {
	if len(in.Uploads) == 0 {
		return Result{}, frameforge.Errorf(frameforge.EMissingImage, "No image was given to edit.")
	}
	route := in.Route
	if route.Key.Empty() {
		// Compat: with no key anywhere the Python backend echoed the first
		// upload. Keep it, so a fresh checkout works, but make it visible.
		p.log.WarnContext(ctx, "no API key for provider: answering with the development fallback (first image unchanged)",
			"request_id", in.RequestID, "provider", route.ID)
		return p.fallback(ctx, in, route)
	}
	if route.Provider == nil {
		return Result{}, frameforge.Errorf(frameforge.ENotImplemented,
			"The provider %q is not available in this build.", route.ID)
	}
	images, err := p.prepare(ctx, in.Uploads)
	if err != nil {
		return Result{}, err
	}
	// Prepared in place: nothing reads the uploads again, and from here the
	// prepared images are held only as long as something still needs them
	// (docs/performance.md, "The edit path against the bare handler").
	in.Uploads = nil
	prompt := in.Prompt
	if prompt == "" {
		prompt = frameforge.DefaultPrompt
	}
	if err := t.Acquire(ctx); err != nil {
		if errors.Is(err, admission.ErrTimeout) {
			p.m.EditRefused("queue_timeout")
		}
		return Result{}, p.waitError(ctx, err, "provider slot")
	}
	// The check's view of the input is made while the provider works;
	// after that only the provider call holds the images.
	ic := p.startStructure(ctx, images[0])
	req := frameforge.EditRequest{Images: images, Prompt: prompt}
	images = nil
	out, by, tried, err := p.callChain(ctx, in, req)
	if err != nil {
		ic.abandon()
		return Result{}, err
	}
	// On the raw answer, before anything (a label) is added to it.
	st := p.checkStructure(ctx, ic, out, by, in.RequestID)
	res := Result{Image: out, Provider: by.ID, Model: by.Model, Tried: tried, Structure: st}
	if in.Disclose {
		// After the answer is checked: the label goes on a picture known
		// to be a complete image within the limits.
		if res.Image, err = p.Disclose(ctx, res.Image); err != nil {
			return Result{}, err
		}
		res.Labelled = true
	}
	return res, nil
}

// fallback is the development answer: the first upload as it came, except
// that a photo a browser cannot show (HEIC, HEIF, AVIF) is converted to the
// JPEG a provider would have been sent, and a requested label is drawn, so
// the page behaves as it will with a key.
func (p *Pipeline) fallback(ctx context.Context, in Input, route provider.Route) (Result, error) {
	res := Result{Image: in.Uploads[0].Image, Provider: route.ID, Model: route.Model, Fallback: true}
	ct := in.Uploads[0].Info.ContentType
	if ct == imaging.TypeHEIC || ct == imaging.TypeHEIF || ct == imaging.TypeAVIF {
		imgs, err := p.prepare(ctx, in.Uploads[:1])
		if err != nil {
			return Result{}, err
		}
		res.Image = imgs[0]
	}
	if in.Disclose {
		var err error
		if res.Image, err = p.Disclose(ctx, res.Image); err != nil {
			return Result{}, err
		}
		res.Labelled = true
	}
	return res, nil
}

// Disclose draws the disclosure label on a checked result, in its own
// format (disclosure.Config.Apply), holding a core and the decode's memory
// like any preparation. Run calls it when Input.Disclose is set; a two-step
// job (declutter, then stage) leaves it off for the declutter call, whose
// unlabelled answer the stage step edits, and sets it for the stage calls.
func (p *Pipeline) Disclose(ctx context.Context, img frameforge.Image) (frameforge.Image, error) {
	info, err := imaging.Inspect(img.Data)
	if err != nil {
		return img, frameforge.Wrap(err, frameforge.EUpstreamError, "The result is not an image the disclosure label can be drawn on.")
	}
	release, err := p.takePrepareSlot(ctx, Upload{Image: img, Info: info})
	if err != nil {
		return img, err
	}
	defer release()
	data, ct, err := p.cfg.Disclosure.Apply(ctx, img.Data)
	if err != nil {
		if ctx.Err() != nil {
			return img, preparingStopped(ctx, err)
		}
		return img, frameforge.Wrap(err, frameforge.EInternal, "The server failed to draw the disclosure label.")
	}
	return frameforge.Image{Data: data, ContentType: ct, Filename: img.Filename, Width: img.Width, Height: img.Height}, nil
}

// Prepare makes uploads ready to leave the server, exactly as Run's first
// step does, for a caller that stores them first (a job submission keeps
// the prepared photos, so no GPS position is ever at rest).
func (p *Pipeline) Prepare(ctx context.Context, ups []Upload) ([]frameforge.Image, error) {
	return p.prepare(ctx, ups)
}

// Preview returns one checked upload prepared as a JPEG whose longest side
// is at most maxSide: what the staging page shows for a photo the browser
// cannot display (HEIC). It holds a core and the decode's memory like any
// preparation, and gives the same error codes.
func (p *Pipeline) Preview(ctx context.Context, u Upload, maxSide int) (frameforge.Image, error) {
	release, err := p.takePrepareSlot(ctx, u)
	if err != nil {
		return frameforge.Image{}, err
	}
	defer release()
	opt := p.cfg.Prepare
	opt.MaxSide, opt.JPEG, opt.InPlace = maxSide, true, true
	pr, err := imaging.Prepare(ctx, u.Image.Data, u.Info, opt)
	if err != nil && ctx.Err() != nil {
		return frameforge.Image{}, preparingStopped(ctx, err)
	}
	if err != nil {
		return frameforge.Image{}, prepareError(err, u)
	}
	return frameforge.Image{Data: pr.Data, ContentType: pr.ContentType, Filename: u.Image.Filename,
		Width: pr.Width, Height: pr.Height}, nil
}

// call asks the provider and checks its answer like an upload: a provider
// is an outside party, and its bytes go to our client.
func (p *Pipeline) call(ctx context.Context, route provider.Route, req frameforge.EditRequest, requestID string) (frameforge.Image, error) {
	start := time.Now()
	out, err := route.Provider.Edit(ctx, req)
	if err == nil {
		err = p.checkAnswer(&out)
	}
	dur := time.Since(start)
	outcome := "ok"
	if err != nil {
		outcome = frameforge.ErrorCode(err)
		if errors.Is(err, context.Canceled) {
			outcome = "cancelled"
		}
	}
	p.m.ObserveProvider(route.Family, outcome, dur)
	p.log.InfoContext(ctx, "provider call", "request_id", requestID, "provider", route.ID,
		"duration", dur, "outcome", outcome)
	if err != nil && ctx.Err() == context.DeadlineExceeded && frameforge.ErrorCode(err) != frameforge.EUpstreamTimeout {
		// Our edit deadline, not the client, ended the call: that is a slow
		// upstream (504), whatever the provider made of the cancellation.
		err = frameforge.Wrap(err, frameforge.EUpstreamTimeout, "The AI provider did not finish in time.")
	}
	return out, err
}

// checkAnswer refuses an answer that is not a complete image of a supported
// kind within the pixel limit: a 30000×30000 PNG of a few kilobytes would
// otherwise reach a client's browser as it is.
func (p *Pipeline) checkAnswer(img *frameforge.Image) error {
	info, err := imaging.Inspect(img.Data)
	if err != nil {
		return frameforge.Wrap(err, frameforge.EUpstreamError,
			fmt.Sprintf("The AI provider answered with data that is not a valid image (%s).", info.ContentType))
	}
	if p.cfg.MaxPixels > 0 && info.Pixels() > p.cfg.MaxPixels {
		return frameforge.Errorf(frameforge.EUpstreamError,
			"The AI provider answered with an image of %d×%d pixels, over this server's limit.", info.Width, info.Height)
	}
	img.ContentType, img.Width, img.Height = info.ContentType, info.Width, info.Height
	return nil
}

// waitError says what a failed wait for a slot means: the server is busy
// (503), or the client left. what names the slot ("provider slot"). A deadline that passes while waiting is not
// the provider's slowness.
func (p *Pipeline) waitError(ctx context.Context, err error, what string) error {
	switch {
	case errors.Is(err, admission.ErrTimeout):
		return &frameforge.Error{Code: frameforge.EOverloaded, RetryAfter: p.gate.RetryAfter(), Err: err,
			Message: fmt.Sprintf("The server is busy: no %s freed up within %s; try again shortly.", what, p.cfg.SlotTimeout)}
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded:
		return &frameforge.Error{Code: frameforge.EOverloaded, RetryAfter: p.gate.RetryAfter(), Err: err,
			Message: fmt.Sprintf("The server is busy: the edit's time limit ran out while it waited for a %s.", what)}
	}
	return err
}
