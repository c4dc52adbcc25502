// Package fal is FrameForge's client for fal.ai's queue API. fal has no
// official Go SDK, so this small client follows what fal-js and fal_client do:
// submit the job, poll the status URL fal returns, fetch the result at once,
// and cancel the job when our caller gives up. See docs/providers.md, fal.ai.
package fal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"frameforge"
	"frameforge/internal/httpbody"
	"frameforge/internal/provider/upstream"
)

// Config holds the fal settings. Each field names the environment variable
// the config package reads it from.
type Config struct {
	QueueURL string // FAL_QUEUE_URL: queue host, where jobs are submitted
	RestURL  string // FAL_REST_URL: REST host, for storage uploads

	// UploadThreshold (FAL_UPLOAD_THRESHOLD) is the largest input, in bytes,
	// sent inline as a data URI; larger inputs are uploaded to fal storage
	// first. Inline saves two round trips and leaves no copy of the photo on
	// fal's CDN; but base64 grows the submit body by a third and the queue
	// stores that body with the job, so past about a megabyte (a prepared
	// photo is usually well under) the upload is the better deal. 0 uploads
	// every image.
	UploadThreshold int64

	// MaxDownloadBytes (FAL_MAX_DOWNLOAD_BYTES) caps one result image, as a
	// download or as a decoded data URI.
	MaxDownloadBytes int64

	// PollInitial (FAL_POLL_INITIAL) is the first wait between status polls;
	// it grows by half each poll up to PollMax (FAL_POLL_MAX): short jobs are
	// noticed quickly, long ones cost few calls.
	PollInitial time.Duration
	PollMax     time.Duration
}

// NewDefaultConfig returns the production settings.
func NewDefaultConfig() Config {
	return Config{
		QueueURL:         "https://queue.fal.run",
		RestURL:          "https://rest.fal.ai",
		UploadThreshold:  1 << 20,
		MaxDownloadBytes: 50 << 20,
		PollInitial:      100 * time.Millisecond,
		PollMax:          2 * time.Second,
	}
}

// Validate reports every bad setting at once; each error names its
// environment variable.
func (c Config) Validate() error {
	var errs []error
	for _, u := range []struct{ env, val string }{
		{"FAL_QUEUE_URL", c.QueueURL},
		{"FAL_REST_URL", c.RestURL},
	} {
		if !upstream.IsBaseURL(u.val) {
			errs = append(errs, fmt.Errorf("%s: must be an absolute http(s) URL", u.env))
		}
	}
	if c.UploadThreshold < 0 {
		errs = append(errs, errors.New("FAL_UPLOAD_THRESHOLD: must be >= 0"))
	}
	if c.MaxDownloadBytes <= 0 {
		errs = append(errs, errors.New("FAL_MAX_DOWNLOAD_BYTES: must be > 0"))
	}
	if c.PollInitial <= 0 {
		errs = append(errs, errors.New("FAL_POLL_INITIAL: must be > 0"))
	}
	if c.PollMax < c.PollInitial {
		errs = append(errs, errors.New("FAL_POLL_MAX: must be >= FAL_POLL_INITIAL"))
	}
	return errors.Join(errs...)
}

// Client edits images with fal models through the queue API. It holds no
// per-request state and is safe for concurrent use.
type Client struct {
	cfg Config
	hc  *http.Client
	log *slog.Logger
	// sleep waits d, or until ctx ends and then returns ctx's error. Tests
	// replace it to check the poll cadence without waiting it out.
	sleep func(ctx context.Context, d time.Duration) error
}

var _ frameforge.Provider = (*Client)(nil)

// New returns a client. cfg should have passed Validate. hc carries our
// transport and timeouts (nil: a plain client, bounded only by each request's
// context); log receives debug lines for every status poll and is never given
// the key (nil: discard).
//
// The client works on a copy of hc (the caller's is untouched) that never
// follows a redirect: Go re-sends a 307/308 with its body and every header
// but Authorization and cookies to the host Location names, and even
// Authorization goes along to a subdomain; a redirect is an upstream_error.
// Every answer body is bounded below our own reads too, so an endless or
// gzip-bomb body costs at most its cap (see httpbody.Transport).
func New(cfg Config, hc *http.Client, log *slog.Logger) *Client {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{cfg: cfg, log: log, sleep: upstream.Sleep}
	c.hc = upstream.Client(hc, c.maxResultBytes(), maxErrorBytes)
	return c
}

// Edit runs one edit with the fal model req.Model (an endpoint id such as
// "fal-ai/nano-banana/edit") and returns the first result image, its content
// type sniffed from its bytes.
//
// Errors are *frameforge.Error: EInvalidRequest for a malformed model id or an
// image count the model cannot take (nothing is sent); EInvalidAPIKey or
// EProviderAuth when fal rejects the key; EProviderInput or EContentBlocked
// when fal refuses the input or flags the output; EUpstreamRateLimit,
// EUpstreamUnavail, EUpstreamError, ENoImageReturned for fal's own failures;
// EUpstreamTimeout when ctx's deadline passes. When ctx is cancelled Edit
// returns an error wrapping context.Canceled. In both ctx cases a running
// job is cancelled at fal before Edit returns, so nothing keeps running.
func (c *Client) Edit(ctx context.Context, req frameforge.EditRequest) (frameforge.Image, error) {
	if err := ValidateEndpointID(req.Model); err != nil {
		return frameforge.Image{}, err
	}
	m := lookupModel(req.Model)
	if err := m.checkImages(req.Model, len(req.Images)); err != nil {
		return frameforge.Image{}, err
	}

	refs, err := c.imageRefs(ctx, req.Key, req.Images)
	if err != nil {
		return frameforge.Image{}, c.abandon(ctx, req, nil, false, err)
	}
	j, err := c.submit(ctx, req.Key, req.Model, m.input(req.Prompt, refs))
	if err != nil {
		return frameforge.Image{}, c.abandon(ctx, req, nil, false, err)
	}
	// fal has the images now. Let go of them, so that while the job runs
	// and its result is read, the upload can already be collected.
	req.Images, refs = nil, nil
	st, err := c.poll(ctx, req.Key, j)
	if err != nil {
		return frameforge.Image{}, c.abandon(ctx, req, j, true, err)
	}
	img, err := c.result(ctx, req.Key, j, st)
	if err != nil {
		// The job is complete: nothing to cancel.
		return frameforge.Image{}, c.abandon(ctx, req, j, false, err)
	}
	return img, nil
}

// abandon turns a failed step into Edit's error. A job that may still run
// (running) is cancelled at fal first: we will never fetch its result, and
// fal bills for it. When ctx has ended its reason wins over err, because the
// step failed only as a consequence.
func (c *Client) abandon(ctx context.Context, req frameforge.EditRequest, j *job, running bool, err error) error {
	if running {
		c.cancel(ctx, req.Key, j)
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return &frameforge.Error{
			Code:    frameforge.EUpstreamTimeout,
			Message: "fal.ai did not finish the edit in time" + j.stateNote() + ".",
			Err:     fmt.Errorf("fal %s: %w", req.Model, context.DeadlineExceeded),
		}
	case ctx.Err() != nil:
		return fmt.Errorf("fal %s: edit abandoned: %w", req.Model, ctx.Err())
	}
	return err
}

// response is one HTTP exchange, body read in full.
type response struct {
	status int
	header http.Header
	body   []byte
}

// Body limits for JSON answers. A result holds data-URI images (base64: 4/3
// of the bytes), so its limit follows MaxDownloadBytes. An error answer is
// a small JSON detail or a proxy's HTML page, whatever the call.
const (
	maxJSONBytes  = 1 << 20
	maxErrorBytes = 64 << 10
)

// errRedirect is a 3xx answer: New's client does not follow them.
var errRedirect = errors.New("fal.ai answered with a redirect, which is not followed")

func (c *Client) maxResultBytes() int64 { return c.cfg.MaxDownloadBytes*3/2 + maxJSONBytes }

// send does one request and reads the answer up to limit bytes. The key goes
// on the wire only when it is not empty: signed upload URLs and CDN files
// must never see it (and get no Accept: application/json either). Transport errors lose their URL (it may carry a signed
// token) and keep the cause, so context errors still match errors.Is.
func (c *Client) send(ctx context.Context, method, rawURL string, key frameforge.Key,
	body []byte, contentType string, limit int64) (response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		return response{}, fmt.Errorf("%s: bad URL", method)
	}
	req.Header.Set("User-Agent", "frameforge-fal")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if !key.Empty() { // a fal API call: JSON in, JSON out
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Authorization", "Key "+key.Reveal())
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = fmt.Errorf("%s: %w", ue.Op, ue.Err)
		}
		return response{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return response{}, fmt.Errorf("%s: %w (HTTP %d)", method, errRedirect, resp.StatusCode)
	}
	data, err := httpbody.Read(resp.Body, resp.ContentLength, limit)
	var tle *httpbody.TooLargeError
	if errors.As(err, &tle) && !(resp.StatusCode >= 200 && resp.StatusCode < 300) {
		// An oversized error body: the status alone still says what
		// happened, so it is mapped like any error, without the detail.
		return response{status: resp.StatusCode, header: resp.Header}, nil
	}
	if errors.Is(err, httpbody.ErrTooLarge) {
		return response{}, fmt.Errorf("%s: %w (%d bytes)", method, httpbody.ErrTooLarge, limit)
	}
	if err != nil {
		return response{}, fmt.Errorf("%s: reading body: %w", method, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// ok reports a 2xx answer. fal answers 200 or 202 on success.
func (r response) ok() bool { return r.status >= 200 && r.status < 300 }
