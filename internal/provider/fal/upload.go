package fal

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"frameforge"
)

// maxParallelUploads bounds concurrent storage uploads of one request.
const maxParallelUploads = 4

// imageRefs returns what goes into image_url(s) for each image, in order: a
// data URI for images up to UploadThreshold, else a fal storage URL after an
// upload. Uploads run concurrently; the first failure stops the others.
func (c *Client) imageRefs(ctx context.Context, key frameforge.Key, images []frameforge.Image) ([]string, error) {
	refs := make([]string, len(images))
	errs := make([]error, len(images))
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	sem := make(chan struct{}, maxParallelUploads)
	var wg sync.WaitGroup
	for i, img := range images {
		if int64(len(img.Data)) <= c.cfg.UploadThreshold {
			refs[i] = "data:" + contentType(img) + ";base64," + base64.StdEncoding.EncodeToString(img.Data)
			continue
		}
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			refs[i], errs[i] = c.upload(ctx, key, i, img)
			if errs[i] != nil {
				stop()
			}
		})
	}
	wg.Wait()
	// Report the failure that stopped the others, not their cancellation.
	var first error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if first == nil || errors.Is(first, context.Canceled) && !errors.Is(err, context.Canceled) {
			first = err
		}
	}
	return refs, first
}

// contentType is the image's type, sniffed if the caller left it empty.
func contentType(img frameforge.Image) string {
	if img.ContentType != "" {
		return img.ContentType
	}
	return http.DetectContentType(img.Data)
}

// upload stores one image in fal storage, as fal-js does (see
// docs/providers.md, fal.ai):
// initiate with our key, PUT the bytes to the signed upload_url without it,
// and return file_url. The file name is made up: the client's file name is
// none of fal's business.
func (c *Client) upload(ctx context.Context, key frameforge.Key, i int, img frameforge.Image) (string, error) {
	ct := contentType(img)
	body, err := json.Marshal(map[string]string{
		"content_type": ct,
		"file_name":    fmt.Sprintf("%d-%d.%s", time.Now().UnixMilli(), i, extension(ct)),
	})
	if err != nil {
		return "", frameforge.Wrap(err, frameforge.EInternal, "Could not encode the fal upload request.")
	}
	resp, err := c.send(ctx, http.MethodPost, c.cfg.RestURL+"/storage/upload/initiate?storage_type=fal-cdn-v3",
		key, body, "application/json", maxJSONBytes)
	if err != nil {
		return "", transportError("upload", err)
	}
	if !resp.ok() {
		return "", httpError("upload", key, resp)
	}
	var target struct {
		UploadURL string `json:"upload_url"`
		FileURL   string `json:"file_url"`
	}
	if err := json.Unmarshal(resp.body, &target); err != nil {
		return "", badAnswer("upload", resp, fmt.Errorf("decoding: %w", err))
	}
	if !isAbsoluteURL(target.UploadURL) || !isAbsoluteURL(target.FileURL) {
		return "", badAnswer("upload", resp, errors.New("missing upload_url or file_url"))
	}

	resp, err = c.send(ctx, http.MethodPut, target.UploadURL, frameforge.Key{}, img.Data, ct, maxJSONBytes)
	if err != nil {
		return "", transportError("upload", err)
	}
	if !resp.ok() {
		return "", &frameforge.Error{
			Code:    frameforge.EUpstreamError,
			Message: fmt.Sprintf("fal.ai storage refused the image upload (HTTP %d).", resp.status),
			Err:     fmt.Errorf("fal upload PUT: HTTP %d", resp.status),
		}
	}
	c.log.DebugContext(ctx, "fal upload done", "image", i, "bytes", len(img.Data), "content_type", ct)
	return target.FileURL, nil
}

// extension returns a file extension for an image content type.
func extension(ct string) string {
	switch ct {
	case "image/jpeg":
		return "jpg"
	case "image/png", "image/webp", "image/gif", "image/bmp", "image/avif", "image/heic":
		return strings.TrimPrefix(ct, "image/")
	}
	return "bin"
}

// isAbsoluteURL reports whether s is an absolute http(s) URL. The upload
// URLs get no key (a signed URL carries its own grant), so any host will do.
func isAbsoluteURL(s string) bool {
	u, err := parseURL(s)
	return err == nil && u.Host != ""
}
