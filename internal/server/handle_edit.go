package server

import (
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"frameforge"
	"frameforge/internal/disclosure"
	"frameforge/internal/imaging"
	"frameforge/internal/pipeline"
	"frameforge/internal/provider"
	"frameforge/internal/structure"
)

// FallbackHeader marks a development-fallback answer: no key was configured
// or sent, so the first upload came back unchanged.
const FallbackHeader = "X-FrameForge-Fallback"

// The headers that say who did an edit: the provider (route id) and model
// that answered, and, when a fallback chain was walked, every provider
// called in order (the last is the one that answered).
const (
	ProviderHeader = "X-FrameForge-Provider"
	ModelHeader    = "X-FrameForge-Model"
	TriedHeader    = "X-FrameForge-Tried"
)

// DisclosureHeader says the result carries the disclosure label.
const DisclosureHeader = "X-FrameForge-Disclosure"

// StructureHeader carries the structural-change check of an edit's result:
// "ok; score=0.12" or "flagged; score=0.83; regions=2". It is absent when
// the check is off, does not apply or failed (docs/structure.md).
const StructureHeader = "X-FrameForge-Structure"

// editHandler serves POST /api/edit. Its steps return errors to one writer
// (ServeHTTP); everything from preparing the images on is the pipeline's,
// which a job worker runs the same way without an HTTP request.
type editHandler struct {
	log    *slog.Logger
	lim    Limits
	upload UploadRate
	reg    *provider.Registry
	pipe   *pipeline.Pipeline
	// disclosure is the server's label policy.
	disclosure disclosure.Config
}

func handleEdit(log *slog.Logger, cfg Config, reg *provider.Registry, pipe *pipeline.Pipeline) http.Handler {
	return &editHandler{log: log, lim: cfg.Limits, upload: cfg.Upload, reg: reg, pipe: pipe, disclosure: cfg.Disclosure}
}

func (h *editHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	res, err := h.execute(w, r)
	if err != nil {
		writeError(w, r, h.log, err)
		return
	}
	if res.Fallback {
		w.Header().Set(FallbackHeader, "no-api-key; provider="+res.Provider)
	}
	if res.Labelled {
		w.Header().Set(DisclosureHeader, "labelled")
	}
	writeImage(w, res)
}

// execute admits the edit, reads and checks the upload, resolves the
// provider and key, spends the client's edit budget and quota unit, and
// hands the rest to the pipeline; the unit is kept only if the edit
// succeeded.
func (h *editHandler) execute(w http.ResponseWriter, r *http.Request) (pipeline.Result, error) {
	ctx := r.Context()
	// The keys this request carries, and the server's, are redacted from
	// anything logged about it, whatever a provider put in its errors.
	creds := credentials(h.reg, r)
	for _, k := range creds {
		noteSecret(ctx, k)
	}
	for _, k := range h.reg.ServerKeys() {
		noteSecret(ctx, k)
	}
	// A place is taken before the upload is read: that bounds the bytes
	// held in memory by the number of places, however many clients come.
	ticket, err := h.pipe.Admit()
	if err != nil {
		return pipeline.Result{}, err
	}
	defer ticket.Release()

	withMinRate(w, r, h.upload.MinRate, h.upload.Grace, h.upload.ReadTimeout)
	form, err := parseEditForm(w, r, h.lim)
	if err != nil {
		return pipeline.Result{}, err
	}
	name := form.provider
	if name == "" {
		name = r.URL.Query().Get("provider") // the form field wins (compat)
	}
	route, err := h.reg.Resolve(name, creds)
	if err != nil {
		return pipeline.Result{}, err
	}
	disclose, err := wantDisclosure(h.disclosure, form.fields["disclosure"])
	if err != nil {
		return pipeline.Result{}, err
	}
	if declutter, _, err := formBool("declutter", form.fields["declutter"]); err != nil {
		return pipeline.Result{}, err
	} else if declutter {
		return pipeline.Result{}, frameforge.Errorf(frameforge.EInvalidRequest,
			"declutter is a job option: POST it to /api/jobs (with a style for a decluttered, then staged room). "+
				"On /api/edit, send the declutter preset's prompt from GET /api/presets instead.")
	}
	in := pipeline.Input{Uploads: form.uploads, Prompt: form.prompt, Route: route, RequestID: requestIDFrom(ctx), Disclose: disclose}
	fallback, err := useFallbacks(r, form)
	if err != nil {
		return pipeline.Result{}, err
	}
	if fallback {
		in.Fallbacks = h.reg.Fallbacks(route, creds)
	}
	// Everything is checked: from here the edit is admitted toward the
	// provider, and only now does it spend the client's budget and quota.
	a := accessFrom(ctx)
	hold, err := a.admit(w, r, 1, route)
	if err != nil {
		return pipeline.Result{}, err
	}
	res, err := h.pipe.Run(ctx, ticket, in)
	kept := 0
	if err == nil && !res.Fallback {
		kept = 1
	}
	a.settle(ctx, hold, kept, route.Family)
	return res, err
}

// wantDisclosure resolves a request's disclosure field against the
// server's policy, with an answer a person understands when it is refused.
func wantDisclosure(c disclosure.Config, field string) (bool, error) {
	asked, _, err := formBool("disclosure", field)
	if err != nil {
		return false, err
	}
	on, err := c.Want(asked)
	if err != nil {
		return false, frameforge.Wrap(err, frameforge.EInvalidRequest,
			"This server does not draw the disclosure label (its DISCLOSURE setting is off); send disclosure=false, or ask its operator to turn it on.")
	}
	return on, nil
}

// writeImage sends an image with its real, sniffed type: a provider's claim
// about its own output is not trusted either.
func writeImage(w http.ResponseWriter, res pipeline.Result) {
	img := res.Image
	ct := imaging.Sniff(img.Data)
	if !strings.HasPrefix(ct, "image/") {
		ct = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.Itoa(len(img.Data)))
	h.Set("Cache-Control", "no-store")
	h.Set(ProviderHeader, res.Provider)
	if res.Model != "" {
		h.Set(ModelHeader, res.Model)
	}
	if len(res.Tried) > 1 {
		names := make([]string, len(res.Tried))
		for i, a := range res.Tried {
			names[i] = a.Provider
		}
		h.Set(TriedHeader, strings.Join(names, ", "))
	}
	if v := structureHeader(res.Structure); v != "" {
		h.Set(StructureHeader, v)
	}
	if exts, _ := mime.ExtensionsByType(ct); len(exts) > 0 {
		h.Set("Content-Disposition", `inline; filename="frameforge-edit`+preferredExt(ct, exts)+`"`)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(img.Data)
}

// structureHeader is the StructureHeader value of a report, "" for none.
func structureHeader(rep *structure.Report) string {
	if rep == nil {
		return ""
	}
	if rep.Flagged {
		return fmt.Sprintf("flagged; score=%.2f; regions=%d", rep.Score, len(rep.Regions))
	}
	return fmt.Sprintf("ok; score=%.2f", rep.Score)
}

func preferredExt(ct string, exts []string) string {
	if ct == "image/jpeg" {
		return ".jpg"
	}
	return exts[0]
}
