package server

import (
	"log/slog"
	"net/http"
	"strconv"

	"frameforge"
	"frameforge/internal/pipeline"
)

// Preview sizes: the default longest side, and the most a client may ask.
const (
	previewSide    = 1024
	maxPreviewSide = 2048
)

// handlePreview serves POST /api/preview: one photo (field "image") back as
// the JPEG a provider would be sent, scaled to at most 1024 px (max_side up
// to 2048). The staging page uses it to show HEIC photos the browser cannot.
// The upload gets the checks and error codes of an edit, and takes an edit
// place while it is read and prepared (the place bounds uploads held in
// memory); the route spends the default rate budget, not the edit budget.
func handlePreview(log *slog.Logger, cfg Config, pipe *pipeline.Pipeline) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		img, err := preview(w, r, cfg, pipe)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		h := w.Header()
		h.Set("Content-Type", img.ContentType)
		h.Set("Content-Length", strconv.Itoa(len(img.Data)))
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Disposition", `inline; filename="preview.jpg"`)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(img.Data)
	})
}

func preview(w http.ResponseWriter, r *http.Request, cfg Config, pipe *pipeline.Pipeline) (frameforge.Image, error) {
	ticket, err := pipe.Admit()
	if err != nil {
		return frameforge.Image{}, err
	}
	defer ticket.Release()
	withMinRate(w, r, cfg.Upload.MinRate, cfg.Upload.Grace, cfg.Upload.ReadTimeout)
	lim := cfg.Limits
	lim.MaxImages = 1
	form, err := parseEditForm(w, r, lim)
	if err != nil {
		return frameforge.Image{}, err
	}
	side := previewSide
	if v := form.fields["max_side"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPreviewSide {
			return frameforge.Image{}, frameforge.Errorf(frameforge.EInvalidRequest,
				"max_side must be a whole number from 1 to %d, got %q.", maxPreviewSide, truncateField(v))
		}
		side = n
	}
	return pipe.Preview(r.Context(), form.uploads[0], side)
}
