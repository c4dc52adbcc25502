package fal

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"frameforge"
)

// queueStatus is fal's queue answer, shared by submit and status: fal-js
// QueueStatus and fal_client's _parse_status. queue_position comes only with
// IN_QUEUE, logs with IN_PROGRESS/COMPLETED, metrics and error/error_type
// only with COMPLETED.
type queueStatus struct {
	Status        string          `json:"status"`
	RequestID     string          `json:"request_id"`
	ResponseURL   string          `json:"response_url"`
	StatusURL     string          `json:"status_url"`
	CancelURL     string          `json:"cancel_url"`
	QueuePosition *int            `json:"queue_position"`
	Logs          []logLine       `json:"logs"`
	Metrics       *metrics        `json:"metrics"`
	Error         json.RawMessage `json:"error"` // a string in practice; raw so an object cannot break parsing
	ErrorType     string          `json:"error_type"`
}

// logLine is one line of the job's log, as the model wrote it.
type logLine struct {
	Message   string `json:"message"`
	Level     string `json:"level"`
	Source    string `json:"source"`
	Timestamp string `json:"timestamp"`
}

type metrics struct {
	InferenceTime float64 `json:"inference_time"`
}

// The three statuses fal has. There is no FAILED: a bad job completes and its
// error comes with the result.
const (
	statusInQueue    = "IN_QUEUE"
	statusInProgress = "IN_PROGRESS"
	statusCompleted  = "COMPLETED"
)

// job is a submitted request: fal's id and the URLs fal gave for it. The URLs
// are used as given, never rebuilt: status, result and cancel live under
// owner/app only, not under the full endpoint id.
type job struct {
	model       string
	id          string
	statusURL   string
	responseURL string
	cancelURL   string

	// Last state seen, for the timeout message.
	status        string
	queuePosition int
}

// stateNote describes where the job was, for a timeout message, so a full
// queue can be told from a slow model.
func (j *job) stateNote() string {
	switch {
	case j == nil:
		return ""
	case j.status == statusInQueue:
		return fmt.Sprintf(" (the job was still waiting in fal's queue at position %d)", j.queuePosition)
	case j.status == statusInProgress:
		return " (the model was still running)"
	}
	return ""
}

// submit posts the job to the queue and returns its handle.
func (c *Client) submit(ctx context.Context, key frameforge.Key, model string, input map[string]any) (*job, error) {
	body, err := json.Marshal(input)
	if err != nil {
		return nil, frameforge.Wrap(err, frameforge.EInternal, "Could not encode the fal request.")
	}
	resp, err := c.send(ctx, http.MethodPost, c.cfg.QueueURL+"/"+model, key, body, "application/json", maxJSONBytes)
	if err != nil {
		return nil, transportError("submit", err)
	}
	if !resp.ok() {
		e := httpError("submit", key, resp)
		if resp.status == http.StatusNotFound {
			e.Message = fmt.Sprintf("fal.ai does not know the model %s (HTTP 404).", model)
		}
		return nil, e
	}
	var st queueStatus
	if err := json.Unmarshal(resp.body, &st); err != nil {
		return nil, badAnswer("submit", resp, fmt.Errorf("decoding: %w", err))
	}
	if st.RequestID == "" || !isFollowableURL(st.StatusURL) || !isFollowableURL(st.ResponseURL) || !isFollowableURL(st.CancelURL) {
		return nil, badAnswer("submit", resp, fmt.Errorf("missing request_id or status/response/cancel URL"))
	}
	j := &job{
		model:       model,
		id:          st.RequestID,
		statusURL:   st.StatusURL,
		responseURL: st.ResponseURL,
		cancelURL:   st.CancelURL,
		status:      st.Status,
	}
	if st.QueuePosition != nil {
		j.queuePosition = *st.QueuePosition
	}
	c.log.DebugContext(ctx, "fal job submitted", "model", model, "fal_request_id", j.id,
		"status", st.Status, "queue_position", j.queuePosition)
	return j, nil
}

// isFollowableURL reports whether a URL fal handed us is an absolute http(s)
// URL (queries allowed: we add ?logs=1 properly).
func isFollowableURL(s string) bool {
	u, err := parseURL(s)
	return err == nil && u.Host != ""
}
