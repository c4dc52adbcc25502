package server

import (
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"unicode"

	"github.com/dustin/go-humanize"

	"frameforge"
	"frameforge/internal/pipeline"
)

// Limits bound what one edit request may upload. Every limit is checked while
// the body streams in, so a request over a limit is refused without buffering
// more than the limit.
type Limits struct {
	MaxImageBytes   int64 // one file
	MaxRequestBytes int64 // the whole body
	MaxImages       int   // files per request
	MaxPixels       int64 // width*height of one image, read from its header
}

const (
	maxPromptBytes   = 16 << 10
	maxProviderBytes = 512
)

// editForm is a parsed and checked POST /api/edit body.
type editForm struct {
	uploads  []pipeline.Upload
	prompt   string            // trimmed; empty means "use the default"
	provider string            // the form field; empty when absent
	fallback string            // the form field; empty when absent
	fields   map[string]string // the job fields (jobFields), trimmed
}

// parseEditForm streams the multipart body, accepting files under "images"
// and "image" in any mix (upload order kept), "prompt" and "provider". Each
// file is sniffed and its header checked before the next is read. Errors are
// *frameforge.Error with sentences a person understands.
func parseEditForm(w http.ResponseWriter, r *http.Request, lim Limits) (editForm, error) {
	var f editForm
	if r.ContentLength > lim.MaxRequestBytes {
		return f, errRequestTooLarge(lim)
	}
	// The limit must wrap the body before the multipart reader takes it.
	r.Body = http.MaxBytesReader(w, r.Body, lim.MaxRequestBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		return f, frameforge.Wrap(err, frameforge.EInvalidRequest,
			"The request must be multipart/form-data, with the photo in a field named 'image' or 'images'.")
	}
	a := newArena(r.ContentLength, lim.MaxRequestBytes)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return f, bodyError(err, lim)
		}
		switch p.FormName() {
		case "image", "images":
			if len(f.uploads) == lim.MaxImages {
				return f, frameforge.Errorf(frameforge.ETooManyImages,
					"Too many images: at most %d may be sent in one request.", lim.MaxImages)
			}
			u, err := readImage(p, a, lim, len(f.uploads)+1)
			if err != nil {
				return f, err
			}
			f.uploads = append(f.uploads, u)
		case "prompt":
			if f.prompt, err = readField(p, "prompt", maxPromptBytes, lim); err != nil {
				return f, err
			}
		case "provider":
			if f.provider, err = readField(p, "provider", maxProviderBytes, lim); err != nil {
				return f, err
			}
		case "fallback":
			if f.fallback, err = readField(p, "fallback", maxProviderBytes, lim); err != nil {
				return f, err
			}
		case "variations", "webhook_url", "room_type", "style", "metadata", "disclosure", "declutter", "max_side":
			v, err := readField(p, p.FormName(), maxMetadataBytes+1, lim)
			if err != nil {
				return f, err
			}
			if f.fields == nil {
				f.fields = map[string]string{}
			}
			f.fields[p.FormName()] = v
		default:
			// Unknown fields are ignored, as FastAPI did; their bytes still count
			// against the request limit.
			if _, err := io.Copy(io.Discard, p); err != nil {
				return f, bodyError(err, lim)
			}
		}
	}
	if len(f.uploads) == 0 {
		return f, frameforge.Errorf(frameforge.EMissingImage,
			"No image was uploaded: send at least one photo in a field named 'image' or 'images'.")
	}
	return f, nil
}

// useFallbacks reads whether the request allows the provider's fallback
// chain: the form field "fallback", else the ?fallback= query parameter
// (the form wins, as for provider); absent means yes.
func useFallbacks(r *http.Request, f editForm) (bool, error) {
	v := f.fallback
	if v == "" {
		v = r.URL.Query().Get("fallback")
	}
	b, set, err := formBool("fallback", v)
	if !set {
		return true, err
	}
	return b, err
}

// formBool reads a boolean field: true, 1, yes or on; false, 0, no or off
// (any case). set is false when the field is empty; anything else is a 400
// naming the field.
func formBool(name, v string) (value, set bool, err error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "":
		return false, false, nil
	case "true", "1", "yes", "on":
		return true, true, nil
	case "false", "0", "no", "off":
		return false, true, nil
	}
	return false, false, frameforge.Errorf(frameforge.EInvalidRequest, "%s must be true or false, got %q.", name, truncateField(v))
}

func readField(p *multipart.Part, name string, limit int64, lim Limits) (string, error) {
	b, err := io.ReadAll(io.LimitReader(p, limit+1))
	if err != nil {
		return "", bodyError(err, lim)
	}
	if int64(len(b)) > limit {
		return "", frameforge.Errorf(frameforge.EInvalidRequest, "The %s field is too long (at most %s).", name, humanize.IBytes(uint64(limit)))
	}
	return strings.TrimSpace(string(b)), nil
}

// readImage reads one file part into the arena, within the byte limit, and
// checks it (pipeline.CheckImage).
func readImage(p *multipart.Part, a *arena, lim Limits, n int) (pipeline.Upload, error) {
	name := displayName(p.FileName(), n)
	data, err := a.read(p, lim.MaxImageBytes)
	if errors.Is(err, errPartTooLarge) {
		return pipeline.Upload{}, frameforge.Errorf(frameforge.EImageTooLarge,
			"File %q is larger than the %s limit per image.", name, humanize.IBytes(uint64(lim.MaxImageBytes)))
	}
	if err != nil {
		return pipeline.Upload{}, bodyError(err, lim)
	}
	return pipeline.CheckImage(data, name, lim.MaxPixels)
}

// bodyError classifies a failure to read the body: over the limit (413), too
// slow (under the minimum rate, or READ_TIMEOUT passed: 408), or
// malformed/truncated multipart (400).
func bodyError(err error, lim Limits) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errRequestTooLarge(lim)
	}
	var slow *errUploadTooSlow
	if errors.As(err, &slow) {
		return frameforge.Wrap(err, frameforge.ERequestTimeout, fmt.Sprintf(
			"The upload is too slow: after the first %s this server needs at least %s/s. Check the connection and try again.",
			slow.grace, humanize.IBytes(uint64(slow.rate))))
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return frameforge.Wrap(err, frameforge.ERequestTimeout,
			"The upload was not received in time; check the connection and try again.")
	}
	return frameforge.Wrap(err, frameforge.EInvalidRequest,
		"The multipart body is malformed or ended early; the upload may have been cut off.")
}

func errRequestTooLarge(lim Limits) error {
	return frameforge.Errorf(frameforge.ERequestTooLarge,
		"The upload is larger than the %s limit per request.", humanize.IBytes(uint64(lim.MaxRequestBytes)))
}

// displayName makes a client's file name safe to put in a message: no
// control characters, bounded length, and a stand-in when there is none.
func displayName(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 80 {
		s = string(r[:80]) + "…"
	}
	if s == "" {
		s = fmt.Sprintf("image #%d", n)
	}
	return s
}
