package fal

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"frameforge"
)

// cancelTimeout bounds the cancel request. It runs after the caller's context
// has ended, so it needs a deadline of its own; a few seconds is plenty for a
// call fal answers at once, and short enough not to hold up the answer to a
// client waiting for its 504.
const cancelTimeout = 5 * time.Second

// cancel asks fal to stop the job (PUT cancel_url), best effort: the outcome
// is logged, never returned, because the caller is already failing for
// another reason. It uses a context detached from ctx (whose values it keeps)
// since ctx is usually the one that just ended.
func (c *Client) cancel(ctx context.Context, key frameforge.Key, j *job) {
	ctx, stop := context.WithTimeout(context.WithoutCancel(ctx), cancelTimeout)
	defer stop()
	resp, err := c.send(ctx, http.MethodPut, j.cancelURL, key, nil, "", maxJSONBytes)
	if err != nil {
		c.log.WarnContext(ctx, "fal cancel failed", "fal_request_id", j.id, "err", err)
		return
	}
	var body struct {
		Status string `json:"status"` // CANCELLATION_REQUESTED, ALREADY_COMPLETED, NOT_FOUND
	}
	_ = json.Unmarshal(resp.body, &body) // the status is only logged
	c.log.InfoContext(ctx, "fal job cancelled", "fal_request_id", j.id, "model", j.model,
		"http_status", resp.status, "outcome", truncate(body.Status, 40))
}
