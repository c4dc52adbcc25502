package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"frameforge"
	"frameforge/internal/admission"
	"frameforge/internal/imaging"
	"frameforge/internal/metrics"
	"frameforge/internal/provider"
)

// FallbackHeader marks a development-fallback answer: no key was configured
// or sent, so the first upload came back unchanged.
const FallbackHeader = "X-FrameForge-Fallback"

// handleEdit serves POST /api/edit: parse and check the upload, resolve the
// provider and key, prepare the images, call the provider, return the image.
func handleEdit(log *slog.Logger, cfg Config, reg *provider.Registry, gate *admission.Gate, m *metrics.Metrics) http.Handler {
	// Preparing images is CPU work (a decode of a 48 MP photo holds ~100 MB):
	// more at once than there are cores only adds memory, not speed.
	cpu := make(chan struct{}, runtime.GOMAXPROCS(0))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), cfg.EditTimeout)
		defer cancel()
		r = r.WithContext(ctx)

		// A place is taken before the upload is read: that bounds the bytes
		// held in memory by the number of places, however many clients come.
		ticket, err := gate.Admit()
		if err != nil {
			m.EditRefused("queue_full")
			writeError(w, r, log, &frameforge.Error{Code: frameforge.EOverloaded, RetryAfter: gate.RetryAfter(),
				Message: "The server is busy with other edits; try again shortly."})
			return
		}
		defer ticket.Release()

		form, err := parseEditForm(w, r, cfg.Limits)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		name := form.provider
		if name == "" {
			name = r.URL.Query().Get("provider") // the form field wins (compat)
		}
		route, err := reg.Resolve(name, credentialsFrom(r.Header))
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		if route.Key.Empty() {
			// Compat: with no key anywhere the Python backend echoed the first
			// upload. Keep it, so a fresh checkout works, but make it visible.
			log.WarnContext(ctx, "no API key for provider: answering with the development fallback (first image unchanged)",
				"request_id", requestIDFrom(ctx), "provider", route.ID)
			w.Header().Set(FallbackHeader, "no-api-key; provider="+route.ID)
			writeImage(w, form.uploads[0].img, route.ID)
			return
		}
		if route.Provider == nil {
			writeError(w, r, log, frameforge.Errorf(frameforge.ENotImplemented,
				"The provider %q is not available in this build.", route.ID))
			return
		}
		select {
		case cpu <- struct{}{}:
		case <-ctx.Done():
			writeError(w, r, log, ctx.Err())
			return
		}
		images, err := prepare(ctx, form.uploads, cfg.Prepare, cfg.UpstreamBytes)
		<-cpu
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		prompt := form.prompt
		if prompt == "" {
			prompt = frameforge.DefaultPrompt
		}
		if err := ticket.Acquire(ctx); err != nil {
			if errors.Is(err, admission.ErrTimeout) {
				m.EditRefused("queue_timeout")
				err = &frameforge.Error{Code: frameforge.EOverloaded, RetryAfter: gate.RetryAfter(), Err: err,
					Message: fmt.Sprintf("The server is busy: no edit slot freed up within %s; try again shortly.", cfg.EditQueueTimeout)}
			}
			writeError(w, r, log, err)
			return
		}
		start := time.Now()
		out, err := route.Provider.Edit(ctx, frameforge.EditRequest{
			Images: images, Prompt: prompt, Model: route.Model, Key: route.Key,
		})
		dur := time.Since(start)
		outcome := "ok"
		if err != nil {
			outcome = frameforge.ErrorCode(err)
			if errors.Is(err, context.Canceled) {
				outcome = "cancelled"
			}
		}
		m.ObserveProvider(route.Family(), outcome, dur)
		log.InfoContext(ctx, "provider call", "request_id", requestIDFrom(ctx), "provider", route.ID,
			"duration", dur, "outcome", outcome)
		if err != nil {
			// Our edit deadline, not the client, ended the call: that is a slow
			// upstream (504), whatever the provider made of the cancellation.
			if ctx.Err() == context.DeadlineExceeded && frameforge.ErrorCode(err) != frameforge.EUpstreamTimeout {
				err = frameforge.Wrap(err, frameforge.EUpstreamTimeout,
					fmt.Sprintf("The AI provider did not finish within %s.", cfg.EditTimeout))
			}
			writeError(w, r, log, err)
			return
		}
		writeImage(w, out, route.ID)
	})
}

// prepareError tells the client's bad photo (a decode that fails: 4xx, as
// when Inspect refuses it) from our own failure (an encoder error: 500).
func prepareError(err error, up upload) error {
	if fe, ok := inputError(err, up.img.Filename, up.info.ContentType); ok {
		return fe
	}
	return frameforge.Wrap(err, frameforge.EInternal, "The server failed to prepare the images.")
}

// prepare makes each upload ready to leave the server: upright, without
// metadata, no larger than the model uses (opt.MaxSide), and all together
// within the provider's request budget (upstreamBytes; Gemini takes about
// 20 MB of inline data, base64 included). An image over its share of the
// budget is prepared once more at the size that fits. See imaging.Prepare.
func prepare(ctx context.Context, ups []upload, opt imaging.Options, upstreamBytes int64) ([]frameforge.Image, error) {
	out := make([]frameforge.Image, len(ups))
	share := upstreamBytes / int64(len(ups))
	// The uploads live in the request's arena, which nothing else reads after
	// this point: stripping may compact them in place instead of copying.
	opt.InPlace = true
	for i, u := range ups {
		p, err := imaging.Prepare(ctx, u.img.Data, u.info, opt)
		if err == nil && share > 0 && int64(len(p.Data)) > share {
			// JPEG size grows about with the pixel count: shrink the sides by
			// the square root of the excess, with a margin for the estimate.
			// p.Data is the input now: in place, the upload itself is gone.
			o := opt
			o.MaxSide = int(float64(max(p.Width, p.Height)) * math.Sqrt(float64(share)/float64(len(p.Data))) * 0.9)
			p, err = imaging.Prepare(ctx, p.Data, imaging.Info{}, o)
		}
		if err != nil && ctx.Err() != nil {
			return nil, err // the client is gone or out of time: neither its photo's fault nor ours
		}
		if err != nil {
			return nil, prepareError(err, u)
		}
		out[i] = frameforge.Image{Data: p.Data, ContentType: p.ContentType, Filename: u.img.Filename,
			Width: p.Width, Height: p.Height}
	}
	return out, nil
}

// writeImage sends an image with its real, sniffed type: a provider's claim
// about its own output is not trusted either.
func writeImage(w http.ResponseWriter, img frameforge.Image, providerID string) {
	ct := imaging.Sniff(img.Data)
	if !strings.HasPrefix(ct, "image/") {
		ct = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.Itoa(len(img.Data)))
	h.Set("Cache-Control", "no-store")
	h.Set("X-FrameForge-Provider", providerID)
	if exts, _ := mime.ExtensionsByType(ct); len(exts) > 0 {
		h.Set("Content-Disposition", `inline; filename="frameforge-edit`+preferredExt(ct, exts)+`"`)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(img.Data)
}

func preferredExt(ct string, exts []string) string {
	if ct == "image/jpeg" {
		return ".jpg"
	}
	return exts[0]
}

// credentialsFrom reads the per-request keys (compat headers). Authorization
// carries a fal key, as in the Python backend: "Bearer <key>" or "Key <key>".
func credentialsFrom(h http.Header) provider.Credentials {
	c := provider.Credentials{
		Google: strings.TrimSpace(h.Get("X-Google-API-Key")),
		Fal:    strings.TrimSpace(h.Get("X-Fal-Key")),
	}
	if c.Google == "" {
		c.Google = strings.TrimSpace(h.Get("X-Gemini-API-Key"))
	}
	if c.Fal == "" {
		scheme, token, ok := strings.Cut(strings.TrimSpace(h.Get("Authorization")), " ")
		if ok && (strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "Key")) {
			c.Fal = strings.TrimSpace(token)
		}
	}
	return c
}
