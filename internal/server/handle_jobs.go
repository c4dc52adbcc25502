package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"frameforge"
	"frameforge/internal/jobs"
	"frameforge/internal/pipeline"
	"frameforge/internal/presets"
	"frameforge/internal/provider"
)

// jobFields are the multipart fields POST /api/jobs takes beside /api/edit's
// (docs/jobs.md). /api/edit reads and ignores them, as it does any field.
var jobFields = []string{"variations", "webhook_url", "room_type", "style", "metadata", "disclosure", "declutter"}

const (
	maxMetadataBytes = 4 << 10
	maxPreferWait    = 60 * time.Second
	ssePing          = 15 * time.Second
)

// jobsHandler serves the job endpoints.
type jobsHandler struct {
	log     *slog.Logger
	cfg     Config
	reg     *provider.Registry
	pipe    *pipeline.Pipeline
	jobs    *jobs.Service
	presets presets.Catalog
}

// submit serves POST /api/jobs: the same checks as /api/edit, synchronously
// (a bad photo makes no job), then the prepared photos are stored and the job
// queued: 202 with the job object.
func (h *jobsHandler) submit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, v, err := h.doSubmit(w, r)
		if err != nil {
			writeError(w, r, h.log, err)
			return
		}
		w.Header().Set("Location", v.Links.Self)
		encode(w, status, v)
	})
}

func (h *jobsHandler) doSubmit(w http.ResponseWriter, r *http.Request) (int, jobs.View, error) {
	ctx := r.Context()
	idem, err := idempotencyKey(r.Header.Get("Idempotency-Key"))
	if err != nil {
		return 0, jobs.View{}, err
	}
	wait := preferWait(r.Header.Get("Prefer"))
	creds := credentials(h.reg, r)
	for _, k := range creds {
		noteSecret(ctx, k)
	}
	ticket, err := h.pipe.Admit()
	if err != nil {
		return 0, jobs.View{}, err
	}
	release := sync.OnceFunc(ticket.Release)
	defer release()
	withMinRate(w, r, h.cfg.Upload.MinRate, h.cfg.Upload.Grace, h.cfg.Upload.ReadTimeout)
	form, err := parseEditForm(w, r, h.cfg.Limits)
	if err != nil {
		return 0, jobs.View{}, err
	}
	sub, route, err := h.submission(r, form, creds)
	if err != nil {
		return 0, jobs.View{}, err
	}
	a := accessFrom(ctx)
	sub.Owner = a.owner()
	sub.IdemKey = idem
	if sub.Images, err = h.pipe.Prepare(ctx, form.uploads); err != nil {
		return 0, jobs.View{}, err
	}
	release() // the photos are prepared: the place is free for the next upload
	sub.Hash = fingerprint(sub, form)
	// Everything is checked: the job spends the client's budget, and
	// reserves a quota unit per result it will make (a variation each, and
	// the declutter result of a two-step job), which the worker settles when
	// the job ends.
	hold, err := a.admit(w, r, sub.Results(), route)
	if err != nil {
		return 0, jobs.View{}, err
	}
	sub.QuotaHold = string(hold)
	rec, replayed, err := h.jobs.Submit(ctx, sub)
	if err != nil || replayed {
		a.settle(ctx, hold, 0, route.Family) // no new job: nothing to hold for
	}
	if err != nil {
		return 0, jobs.View{}, err
	}
	status := http.StatusAccepted
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
		status = http.StatusOK
	} else if wait > 0 {
		w.Header().Set("Preference-Applied", "wait="+strconv.Itoa(int(wait/time.Second)))
		if done, err := h.jobs.Wait(ctx, rec.ID, wait); err == nil && done != nil {
			rec = done
		}
	}
	if rec.Status.Terminal() {
		status = http.StatusOK
	}
	return status, h.jobs.View(ctx, rec), nil
}

// submission reads the job's own fields and resolves the provider.
func (h *jobsHandler) submission(r *http.Request, f editForm, creds provider.Credentials) (sub jobs.Submission, route provider.Route, err error) {
	name := f.provider
	if name == "" {
		name = r.URL.Query().Get("provider")
	}
	route, err = h.reg.Resolve(name, creds)
	if err != nil {
		return sub, route, err
	}
	sub.Provider, sub.Family, sub.Model = route.ID, route.Family, route.Model
	fallback, err := useFallbacks(r, f)
	if err != nil {
		return sub, route, err
	}
	sub.NoFallback = !fallback
	if route.Key.FromClient() {
		sub.Key = route.Key // the server's own key is not stored: the worker uses the server's key of its time
	}
	sub.Variations = 1
	if v := f.fields["variations"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 4 {
			return sub, route, frameforge.Errorf(frameforge.EInvalidRequest, "variations must be a whole number from 1 to 4, got %q.", truncateField(v))
		}
		sub.Variations = n
	}
	if sub.Prompt, err = h.presets.Compose(f.prompt, f.fields["room_type"], f.fields["style"]); err != nil {
		return sub, route, frameforge.Wrap(err, frameforge.EInvalidPreset, err.Error())
	}
	if sub.Disclose, err = wantDisclosure(h.cfg.Disclosure, f.fields["disclosure"]); err != nil {
		return sub, route, err
	}
	wantDeclutter, _, err := formBool("declutter", f.fields["declutter"])
	if err != nil {
		return sub, route, err
	}
	if wantDeclutter {
		declutter := jobs.Step{Name: jobs.StepDeclutter, Prompt: h.presets.Declutter.Prompt}
		if strings.TrimSpace(f.prompt) == "" && f.fields["room_type"] == "" && f.fields["style"] == "" {
			// Declutter alone: the emptied room is the result.
			sub.Prompt, sub.Steps = declutter.Prompt, []jobs.Step{declutter}
		} else {
			// Declutter, then stage the emptied room with the composed
			// prompt: one declutter result, then the variations.
			sub.Steps = []jobs.Step{declutter, {Name: jobs.StepStage, Prompt: sub.Prompt}}
		}
	}
	if u := f.fields["webhook_url"]; u != "" {
		if sub.WebhookURL, err = h.jobs.CheckWebhookURL(r.Context(), u); err != nil {
			return sub, route, err
		}
	}
	if m := f.fields["metadata"]; m != "" {
		var obj map[string]any
		if len(m) > maxMetadataBytes || json.Unmarshal([]byte(m), &obj) != nil || obj == nil {
			return sub, route, frameforge.Errorf(frameforge.EInvalidRequest, "metadata must be a JSON object of at most %d bytes.", maxMetadataBytes)
		}
		sub.Metadata = json.RawMessage(m)
	}
	return sub, route, nil
}

func truncateField(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// fingerprint identifies a request for idempotency: the same photos and
// fields give the same value.
func fingerprint(sub jobs.Submission, f editForm) string {
	d := sha256.New()
	field := func(s string) { fmt.Fprintf(d, "%d:%s;", len(s), s) }
	field(sub.Provider)
	if sub.NoFallback {
		// Only when set, so the fingerprints of requests made before the
		// field existed stay the same.
		field("fallback=false")
	}
	field(f.prompt)
	for _, k := range jobFields {
		field(f.fields[k])
	}
	for _, img := range sub.Images {
		sum := sha256.Sum256(img.Data)
		field(hex.EncodeToString(sum[:]))
	}
	return hex.EncodeToString(d.Sum(nil))
}

// idempotencyKey checks the header: at most 255 printable ASCII characters.
func idempotencyKey(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	ok := len(v) <= 255
	for i := 0; ok && i < len(v); i++ {
		ok = v[i] >= 0x20 && v[i] < 0x7f
	}
	if !ok {
		return "", frameforge.Errorf(frameforge.EIdemKeyInvalid, "The Idempotency-Key header must be at most 255 printable ASCII characters.")
	}
	return v, nil
}

// preferWait reads "Prefer: wait=N" (RFC 7240), clamped to a minute.
func preferWait(v string) time.Duration {
	for _, p := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "wait") {
			if n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(val), `"`)); err == nil && n > 0 {
				return min(time.Duration(n)*time.Second, maxPreferWait)
			}
		}
	}
	return 0
}

// get serves GET /api/jobs/{id}.
func (h *jobsHandler) get() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec, err := h.find(r)
		if err != nil {
			writeError(w, r, h.log, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		encode(w, http.StatusOK, h.jobs.View(r.Context(), rec))
	})
}

// cancel serves DELETE /api/jobs/{id}.
func (h *jobsHandler) cancel() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec, err := h.find(r)
		if err == nil {
			rec, err = h.jobs.Cancel(r.Context(), rec.ID)
		}
		if err != nil {
			writeError(w, r, h.log, err)
			return
		}
		encode(w, http.StatusOK, h.jobs.View(r.Context(), rec))
	})
}

// image serves GET /api/jobs/{id}/results/{n} and /inputs/{n}.
func (h *jobsHandler) image(kind string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.PathValue("n"))
		if err != nil {
			n = -1
		}
		var data []byte
		var ct string
		rec, err := h.find(r)
		if err == nil {
			data, ct, err = h.jobs.Image(r.Context(), rec.ID, kind, n)
		}
		if err != nil {
			writeError(w, r, h.log, err)
			return
		}
		hd := w.Header()
		hd.Set("Content-Type", ct)
		hd.Set("Content-Length", strconv.Itoa(len(data)))
		// A stored picture never changes: private, because a job id is a
		// capability to someone's room.
		hd.Set("Cache-Control", "private, max-age=86400, immutable")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(data)
	})
}

// events serves GET /api/jobs/{id}/events: server-sent events, one "job"
// event with the job now and one per change, ending after the terminal one;
// a ": ping" comment every 15 s keeps proxies from closing an idle stream.
func (h *jobsHandler) events() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		rec, err := h.find(r)
		if err != nil {
			writeError(w, r, h.log, err)
			return
		}
		rc := http.NewResponseController(w)
		_ = rc.SetWriteDeadline(time.Time{}) // a job may wait longer than WRITE_TIMEOUT
		hd := w.Header()
		hd.Set("Content-Type", "text/event-stream")
		hd.Set("Cache-Control", "no-store")
		hd.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
		w.WriteHeader(http.StatusOK)
		var mu sync.Mutex
		write := func(s string) error {
			mu.Lock()
			defer mu.Unlock()
			if _, err := fmt.Fprint(w, s); err != nil {
				return err
			}
			return rc.Flush()
		}
		if err := write(": job " + rec.ID + "\n\n"); err != nil {
			return
		}
		pctx, stop := context.WithCancel(ctx)
		defer stop()
		go func() {
			t := time.NewTicker(ssePing)
			defer t.Stop()
			for {
				select {
				case <-pctx.Done():
					return
				case <-t.C:
					if write(": ping\n\n") != nil {
						stop()
						return
					}
				}
			}
		}()
		err = h.jobs.Watch(pctx, rec.ID, func(rec *jobs.Record) error {
			b, _ := marshalJSON(h.jobs.View(pctx, rec))
			return write("event: job\ndata: " + string(b) + "\n\n")
		})
		if err != nil && !errors.Is(err, context.Canceled) {
			h.log.DebugContext(ctx, "event stream ended", "job", rec.ID, "err", err)
		}
	})
}

// find returns the job named in the path if the caller may see it. A job
// of another token is "not found", exactly like one that does not exist:
// the answer must not confirm that an id is taken.
func (h *jobsHandler) find(r *http.Request) (*jobs.Record, error) {
	id := r.PathValue("id")
	rec, err := h.jobs.Get(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if a := accessFrom(r.Context()); a != nil && !a.sees(rec.Owner) {
		return nil, h.jobs.NotFound(id)
	}
	return rec, nil
}

// list serves GET /api/jobs?limit=20&after={id}: the caller token's jobs,
// newest first, {"data": [job…], "next": id | null}. Without a token
// (AUTH=off) it is 401 token_required: job ids are capabilities to people's
// room photos, and an address is no owner to list by (many clients share
// one).
func (h *jobsHandler) list() http.Handler {
	type page struct {
		Data []jobs.View `json:"data"`
		Next *string     `json:"next"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := accessFrom(r.Context())
		if a == nil || a.token == nil {
			writeError(w, r, h.log, frameforge.Errorf(frameforge.ETokenRequired,
				"Listing jobs needs an API token (Authorization: Bearer ff_…): jobs made without one are listed nowhere. Keep the ids of the jobs you submit."))
			return
		}
		limit := 20
		if v := r.URL.Query().Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100 {
				writeError(w, r, h.log, frameforge.Errorf(frameforge.EInvalidRequest, "limit must be a whole number from 1 to 100, got %q.", truncateField(v)))
				return
			}
			limit = n
		}
		recs, next, err := h.jobs.List(r.Context(), a.owner(), r.URL.Query().Get("after"), limit)
		if err != nil {
			writeError(w, r, h.log, err)
			return
		}
		p := page{Data: make([]jobs.View, 0, len(recs))}
		for _, rec := range recs {
			p.Data = append(p.Data, h.jobs.View(r.Context(), rec))
		}
		if next != "" {
			p.Next = &next
		}
		w.Header().Set("Cache-Control", "no-store")
		encode(w, http.StatusOK, p)
	})
}

// handlePresets serves GET /api/presets: the room types and styles.
func handlePresets(c presets.Catalog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusOK, c)
	})
}
