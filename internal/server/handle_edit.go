package server

import (
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"frameforge/internal/imaging"
	"frameforge/internal/pipeline"
	"frameforge/internal/provider"
	"frameforge/internal/structure"
)

// FallbackHeader marks a development-fallback answer: no key was configured
// or sent, so the first upload came back unchanged.
const FallbackHeader = "X-FrameForge-Fallback"

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
}

func handleEdit(log *slog.Logger, cfg Config, reg *provider.Registry, pipe *pipeline.Pipeline) http.Handler {
	return &editHandler{log: log, lim: cfg.Limits, upload: cfg.Upload, reg: reg, pipe: pipe}
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
	writeImage(w, res)
}

// execute admits the edit, reads and checks the upload, resolves the
// provider and key, and hands the rest to the pipeline.
func (h *editHandler) execute(w http.ResponseWriter, r *http.Request) (pipeline.Result, error) {
	ctx := r.Context()
	// The keys this request carries, and the server's, are redacted from
	// anything logged about it, whatever a provider put in its errors.
	creds := h.reg.Credentials(r.Header.Get)
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
	return h.pipe.Run(ctx, ticket, pipeline.Input{
		Uploads: form.uploads, Prompt: form.prompt, Route: route, RequestID: requestIDFrom(ctx),
	})
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
	h.Set("X-FrameForge-Provider", res.Provider)
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
