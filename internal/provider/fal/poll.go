package fal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"frameforge"
)

// maxStatusRetries is how many failed status polls in a row we retry. The job
// keeps running at fal while a poll fails, so a passing 5xx or network blip
// should not throw the job away.
const maxStatusRetries = 3

// maxRetryAfterWait caps a Retry-After honoured between status polls.
const maxRetryAfterWait = 10 * time.Second

// Bounds for what we log of the job's own log lines.
const (
	maxLogLinesPerPoll = 20
	maxLogLineChars    = 300
)

// poll waits until the job is COMPLETED and returns that status. The wait
// starts at PollInitial and grows by half per poll up to PollMax. It returns
// ctx's error as soon as ctx ends, and a *frameforge.Error when the status
// endpoint fails more than maxStatusRetries times in a row or for good
// (401/403, 4xx).
func (c *Client) poll(ctx context.Context, key frameforge.Key, j *job) (queueStatus, error) {
	statusURL, err := withQuery(j.statusURL, "logs", "1")
	if err != nil {
		return queueStatus{}, badAnswer("status", response{}, err)
	}
	wait := c.cfg.PollInitial
	next := wait
	failures := 0
	seenLogs := 0
	for {
		if err := c.sleep(ctx, next); err != nil {
			return queueStatus{}, err
		}

		st, retryAfter, err := c.status(ctx, key, statusURL)
		wait = pollWait(wait, c.cfg.PollMax)
		switch {
		case err != nil && ctx.Err() != nil:
			return queueStatus{}, ctx.Err()
		case err != nil && retryAfter < 0:
			return queueStatus{}, err // not worth retrying
		case err != nil:
			failures++
			c.log.WarnContext(ctx, "fal status poll failed", "fal_request_id", j.id,
				"attempt", failures, "err", err)
			if failures > maxStatusRetries {
				return queueStatus{}, err
			}
			next = max(wait, min(retryAfter, maxRetryAfterWait))
			continue
		}
		failures = 0
		seenLogs = c.logStatus(ctx, j, st, seenLogs)
		if st.Status == statusCompleted {
			return st, nil
		}
		next = wait
	}
}

// pollWait is the wait before the next status poll after one that waited w:
// half as long again, up to maxWait (fast at first, gentle later).
func pollWait(w, maxWait time.Duration) time.Duration {
	return min(time.Duration(float64(w)*1.5), maxWait)
}

// status does one status call. retryAfter is -1 when the failure is final,
// else the wait fal asked for (0 if none).
func (c *Client) status(ctx context.Context, key frameforge.Key, statusURL string) (st queueStatus, retryAfter time.Duration, err error) {
	resp, err := c.send(ctx, http.MethodGet, statusURL, key, nil, "", maxJSONBytes)
	if errors.Is(err, errRedirect) {
		return st, -1, transportError("status", err) // it will not go away by asking again
	}
	if err != nil {
		return st, 0, transportError("status", err)
	}
	if !resp.ok() {
		fe := httpError("status", key, resp)
		if resp.status == http.StatusTooManyRequests || resp.status >= 500 {
			return st, fe.RetryAfter, fe
		}
		return st, -1, fe
	}
	if err := json.Unmarshal(resp.body, &st); err != nil {
		return st, 0, badAnswer("status", resp, fmt.Errorf("decoding: %w", err))
	}
	switch st.Status {
	case statusInQueue, statusInProgress, statusCompleted:
		return st, 0, nil
	}
	return st, 0, badAnswer("status", resp, fmt.Errorf("unknown status %q", truncate(st.Status, 40)))
}

// logStatus records the status in j and logs it at debug level with the
// queue position and the job's log lines not logged yet, so a stuck queue can
// be told from a hung job. fal sends the whole log each time; seen is how many
// lines were logged already, and the new count is returned.
func (c *Client) logStatus(ctx context.Context, j *job, st queueStatus, seen int) int {
	j.status = st.Status
	attrs := []any{"fal_request_id", j.id, "status", st.Status}
	if st.QueuePosition != nil {
		j.queuePosition = *st.QueuePosition
		attrs = append(attrs, "queue_position", *st.QueuePosition)
	}
	if st.Metrics != nil {
		attrs = append(attrs, "inference_time", st.Metrics.InferenceTime)
	}
	c.log.DebugContext(ctx, "fal status", attrs...)

	if len(st.Logs) < seen { // not cumulative after all: everything is new
		seen = 0
	}
	fresh := st.Logs[seen:]
	if len(fresh) > maxLogLinesPerPoll {
		c.log.DebugContext(ctx, "fal job log lines skipped", "fal_request_id", j.id, "skipped", len(fresh)-maxLogLinesPerPoll)
		fresh = fresh[len(fresh)-maxLogLinesPerPoll:]
	}
	for _, l := range fresh {
		c.log.DebugContext(ctx, "fal job log", "fal_request_id", j.id, "level", l.Level,
			"message", truncate(l.Message, maxLogLineChars), "timestamp", l.Timestamp)
	}
	return len(st.Logs)
}
