package fal

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // DecodeConfig for result dimensions fal did not send
	_ "image/png"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"frameforge"
	"frameforge/internal/httpbody"
)

// output is the part of a model's output we use (see docs/providers.md,
// fal.ai). Flux and qwen
// shapes add has_nsfw_concepts, one flag per image.
type output struct {
	Images  []outputImage `json:"images"`
	HasNSFW []bool        `json:"has_nsfw_concepts"`
}

// outputImage is fal's Image: only url is required.
type outputImage struct {
	URL         string  `json:"url"`
	ContentType string  `json:"content_type"`
	FileName    string  `json:"file_name"`
	Width       float64 `json:"width"` // float: some models send 1024.0
	Height      float64 `json:"height"`
}

// result fetches the output of a COMPLETED job, at once (fal keeps results of
// 10 KB or more for 6 minutes), and returns its first image. A bad input
// surfaces here, not in the status, as the model's 422. When the result says
// nothing useful but the status carried error/error_type, that is reported
// instead.
func (c *Client) result(ctx context.Context, key frameforge.Key, j *job, st queueStatus) (frameforge.Image, error) {
	resp, err := c.send(ctx, http.MethodGet, j.responseURL, key, nil, "", c.maxResultBytes())
	if err != nil {
		return frameforge.Image{}, orStatusError(st, transportError("result", err))
	}
	if !resp.ok() {
		return frameforge.Image{}, orStatusError(st, httpError("result", key, resp))
	}
	var out output
	if err := json.Unmarshal(resp.body, &out); err != nil {
		return frameforge.Image{}, orStatusError(st, badAnswer("result", resp, fmt.Errorf("decoding: %w", err)))
	}
	if len(out.Images) == 0 || out.Images[0].URL == "" {
		return frameforge.Image{}, orStatusError(st, &frameforge.Error{
			Code:    frameforge.ENoImageReturned,
			Message: "fal.ai finished the job but returned no image.",
			Err:     fmt.Errorf("fal result %s: no images", j.id),
		})
	}
	if len(out.HasNSFW) > 0 && out.HasNSFW[0] {
		return frameforge.Image{}, &frameforge.Error{
			Code:    frameforge.EContentBlocked,
			Message: "fal.ai's safety checker flagged the result, so it was not returned.",
			Err:     fmt.Errorf("fal result %s: has_nsfw_concepts[0] = true", j.id),
		}
	}
	img, err := c.fetchImage(ctx, out.Images[0])
	if err != nil {
		return frameforge.Image{}, err
	}
	c.log.DebugContext(ctx, "fal result", "fal_request_id", j.id, "content_type", img.ContentType,
		"bytes", len(img.Data), "width", img.Width, "height", img.Height)
	return img, nil
}

// orStatusError prefers the COMPLETED status's error/error_type over a result
// failure that says nothing specific (5xx, garbage, no image). A specific
// result error (auth, 422, rate limit) is kept: it is fal's real answer.
func orStatusError(st queueStatus, err *frameforge.Error) *frameforge.Error {
	msg := statusErrorText(st.Error)
	if msg == "" && st.ErrorType == "" {
		return err
	}
	if err.Code != frameforge.EUpstreamError && err.Code != frameforge.ENoImageReturned {
		return err
	}
	et := safeErrorType(st.ErrorType)
	code := frameforge.EUpstreamError
	switch {
	case et == "content_policy_violation":
		code = frameforge.EContentBlocked
	case strings.HasPrefix(et, "runner_") && et != "runner_incomplete_response" && et != "runner_server_error":
		code = frameforge.EUpstreamUnavail // the 503 family (see docs/providers.md, fal.ai)
	}
	public := "fal.ai reported that the job failed"
	if et != "" {
		public += " (" + et + ")"
	}
	return &frameforge.Error{
		Code:    code,
		Message: public + ".",
		Err:     fmt.Errorf("fal status error %q (error_type %q); result: %w", truncate(msg, 200), et, err),
	}
}

// statusErrorText returns the status's error as text; fal sends a string.
func statusErrorText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return scrubURLs(s)
	}
	return scrubURLs(string(raw))
}

// fetchImage turns an output image into bytes: a data URI is decoded, an
// http(s) URL downloaded without our key (it is a public CDN file). The bytes
// must sniff as an image, and a declared type, if any, must agree that it is
// one: a CDN error page must not become the user's "room".
func (c *Client) fetchImage(ctx context.Context, oi outputImage) (frameforge.Image, error) {
	var (
		data     []byte
		declared string
		err      *frameforge.Error
	)
	if strings.HasPrefix(oi.URL, "data:") {
		data, declared, err = c.decodeDataURI(oi.URL)
	} else {
		data, declared, err = c.download(ctx, oi.URL)
	}
	if err != nil {
		return frameforge.Image{}, err
	}
	sniffed := http.DetectContentType(data)
	if !strings.HasPrefix(sniffed, "image/") || !imageOrUnknown(declared) {
		return frameforge.Image{}, &frameforge.Error{
			Code:    frameforge.EUpstreamError,
			Message: "fal.ai returned a result that is not an image.",
			Err:     fmt.Errorf("fal result: declared %q, sniffed %q", truncate(declared, 60), sniffed),
		}
	}
	img := frameforge.Image{
		Data:        data,
		ContentType: sniffed,
		Filename:    truncate(oi.FileName, 100),
		Width:       int(oi.Width),
		Height:      int(oi.Height),
	}
	if img.Width <= 0 || img.Height <= 0 {
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil {
			img.Width, img.Height = cfg.Width, cfg.Height
		}
	}
	return img, nil
}

// imageOrUnknown reports whether a declared content type allows an image.
func imageOrUnknown(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return ct == "" || err == nil && (strings.HasPrefix(mt, "image/") ||
		mt == "application/octet-stream" || mt == "binary/octet-stream") // S3-style default
}

// decodeDataURI decodes data:[<type>][;base64],<data> within MaxDownloadBytes.
func (c *Client) decodeDataURI(s string) ([]byte, string, *frameforge.Error) {
	fail := func(why string) ([]byte, string, *frameforge.Error) {
		return nil, "", &frameforge.Error{
			Code:    frameforge.EUpstreamError,
			Message: "fal.ai returned an image that could not be decoded.",
			Err:     fmt.Errorf("fal result data URI: %s", why),
		}
	}
	meta, payload, ok := strings.Cut(strings.TrimPrefix(s, "data:"), ",")
	if !ok {
		return fail("no comma")
	}
	mediaType, isBase64 := strings.CutSuffix(meta, ";base64")
	if int64(len(payload)) > c.cfg.MaxDownloadBytes*4/3+4 {
		return fail("over MaxDownloadBytes")
	}
	var data []byte
	var err error
	if isBase64 {
		data, err = base64.StdEncoding.DecodeString(payload)
		if err != nil { // some encoders drop the padding
			data, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(payload, "="))
		}
	} else {
		var text string
		text, err = url.PathUnescape(payload)
		data = []byte(text)
	}
	if err != nil {
		return fail("bad encoding")
	}
	if int64(len(data)) > c.cfg.MaxDownloadBytes {
		return fail("over MaxDownloadBytes")
	}
	return data, mediaType, nil
}

// download fetches a result image from fal's CDN within MaxDownloadBytes,
// without our key: the URL comes from the model's output, and the CDN
// serves its files to anyone. Only https is fetched, or plain http on one
// of the configured fal hosts (a local fake): the user's picture must not
// travel in clear text, nor a result send us to another scheme.
func (c *Client) download(ctx context.Context, rawURL string) ([]byte, string, *frameforge.Error) {
	u, err := parseURL(rawURL)
	if err != nil || u.Host == "" || u.User != nil || u.Scheme == "http" && !c.configuredHost(u) {
		return nil, "", &frameforge.Error{
			Code:    frameforge.EUpstreamError,
			Message: "fal.ai returned a result URL we cannot download.",
			Err:     fmt.Errorf("fal result: unusable image URL (scheme %q)", schemeOf(rawURL)),
		}
	}
	resp, err := c.send(ctx, http.MethodGet, rawURL, frameforge.Key{}, nil, "", c.cfg.MaxDownloadBytes)
	if err != nil {
		msg := "Could not download the result image from fal.ai."
		if errors.Is(err, errRedirect) {
			msg = "fal.ai's CDN answered the result download with a redirect, which this server does not follow."
		}
		if errors.Is(err, httpbody.ErrTooLarge) {
			msg = "The result image from fal.ai is larger than this server accepts."
		}
		return nil, "", frameforge.Wrap(fmt.Errorf("fal download: %w", err), frameforge.EUpstreamError, msg)
	}
	if resp.status != http.StatusOK {
		return nil, "", &frameforge.Error{
			Code:    frameforge.EUpstreamError,
			Message: fmt.Sprintf("Could not download the result image from fal.ai (HTTP %d).", resp.status),
			Err:     fmt.Errorf("fal download: HTTP %d", resp.status),
		}
	}
	return resp.body, resp.header.Get("Content-Type"), nil
}

// configuredHost reports whether u is on one of the configured fal hosts,
// with the scheme configured for it.
func (c *Client) configuredHost(u *url.URL) bool {
	for _, base := range []string{c.cfg.QueueURL, c.cfg.RestURL} {
		if b, err := url.Parse(base); err == nil && sameOrigin(b, u) {
			return true
		}
	}
	return false
}

// schemeOf returns a URL's scheme for an error, never the URL itself.
func schemeOf(s string) string {
	scheme, _, _ := strings.Cut(s, ":")
	return truncate(scheme, 10)
}
