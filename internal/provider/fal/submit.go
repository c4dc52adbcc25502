package fal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

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
	if st.RequestID == "" {
		return nil, badAnswer("submit", resp, errors.New("missing request_id"))
	}
	for _, u := range []struct{ name, url string }{
		{"status_url", st.StatusURL}, {"response_url", st.ResponseURL}, {"cancel_url", st.CancelURL},
	} {
		if err := c.checkJobURL(u.url, model); err != nil {
			// The job may run at fal now, but its cancel URL is as
			// untrusted as the others: it is left to fal's own timeouts.
			return nil, badAnswer("submit", resp, fmt.Errorf("%s %w", u.name, err))
		}
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

// checkJobURL returns an error unless a URL from fal's submit answer may
// be sent our key: it must be on the configured queue URL's scheme and
// host, under the model's owner/app, as in
// https://queue.fal.run/fal-ai/flux-kontext/requests/{id}/status
// (see docs/providers.md, fal.ai). fal's docs put status, result and cancel
// on the queue host under owner/app, and give no case where they are
// anywhere else; the backup host in fal's queue OpenAPI is an alternative
// place to send the whole exchange, not one the answer points to. So an
// answer naming another host is a broken or tampered answer, and following
// it would hand our key to whoever runs that host. Queries are allowed (we
// add ?logs=1 properly); the error never quotes the URL, which may carry
// a token.
func (c *Client) checkJobURL(raw, model string) error {
	u, err := parseURL(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return errors.New("is not an absolute http(s) URL")
	}
	q, err := url.Parse(c.cfg.QueueURL)
	if err != nil || !sameOrigin(q, u) {
		return errors.New("is not on the queue host")
	}
	prefix := strings.TrimSuffix(q.Path, "/") + "/" + appID(model) + "/requests/"
	if !strings.HasPrefix(u.Path, prefix) || len(u.Path) == len(prefix) || hasDotSegment(u.Path) {
		return fmt.Errorf("is not under /%s/requests/", appID(model))
	}
	return nil
}

// sameOrigin reports whether two URLs have the same scheme, host and port
// (an explicit default port counts as the same).
func sameOrigin(a, b *url.URL) bool {
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		if u.Scheme == "https" {
			return "443"
		}
		return "80"
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

// hasDotSegment reports a "." or ".." path segment (decoded, so %2e%2e
// counts), which a server may resolve to a path outside the prefix.
func hasDotSegment(path string) bool {
	for _, seg := range strings.Split(path, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// appID returns owner/app of a valid endpoint id: the first two segments,
// three for the workflows/ and comfy/ namespaces (fal-js parseEndpointId).
func appID(endpointID string) string {
	segs := strings.Split(endpointID, "/")
	n := 2
	if segs[0] == "workflows" || segs[0] == "comfy" {
		n = 3
	}
	return strings.Join(segs[:min(n, len(segs))], "/")
}
