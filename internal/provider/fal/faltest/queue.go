package faltest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// job is one queued request.
type job struct {
	id        string
	model     string
	app       string // owner/app: where status, result and cancel live
	submitted time.Time
	input     map[string]any
	images    []InputImage
	problems  []problem // validation errors, answered as 422 at the result
	polls     int
	cancelled bool
	completed time.Time // zero until first seen COMPLETED
}

// state is the job's status at one moment.
type state struct {
	status        string
	queuePosition int
	logs          []map[string]any
}

// stateLocked advances the job by one observation (poll) when poll is set,
// and returns its state; s.mu must be held.
func (s *Server) stateLocked(j *job, poll bool) state {
	if poll {
		j.polls++
	}
	b := s.b
	var st state
	switch {
	case !j.completed.IsZero():
		st.status = "COMPLETED"
	case j.cancelled:
		st.status = "COMPLETED"
	case b.StuckInQueue:
		return state{status: "IN_QUEUE", queuePosition: 5 + j.polls}
	case b.QueueTime > 0 || b.RunTime > 0:
		el := time.Since(j.submitted)
		switch {
		case el < b.QueueTime:
			return state{status: "IN_QUEUE", queuePosition: int((b.QueueTime - el) / (100 * time.Millisecond))}
		case el < b.QueueTime+b.RunTime:
			st.status = "IN_PROGRESS"
			st.logs = stepLogs(j, int((el-b.QueueTime)/(250*time.Millisecond))+1)
			return st
		}
		st.status = "COMPLETED"
	default:
		switch n := j.polls; {
		case n <= b.QueuedPolls:
			return state{status: "IN_QUEUE", queuePosition: b.QueuedPolls - n}
		case n <= b.QueuedPolls+b.RunningPolls:
			st.status = "IN_PROGRESS"
			st.logs = stepLogs(j, n-b.QueuedPolls)
			return st
		}
		st.status = "COMPLETED"
	}
	if j.completed.IsZero() {
		j.completed = time.Now()
	}
	st.logs = append(stepLogs(j, 3), logLine(j, "INFO", "done"))
	return st
}

// stepLogs returns n cumulative progress lines, like a diffusion model's.
func stepLogs(j *job, n int) []map[string]any {
	logs := make([]map[string]any, 0, n)
	for i := 1; i <= n; i++ {
		logs = append(logs, logLine(j, "INFO", fmt.Sprintf("step %d", i)))
	}
	return logs
}

func logLine(j *job, level, msg string) map[string]any {
	return map[string]any{"message": msg, "level": level, "source": "USER",
		"timestamp": j.submitted.UTC().Format("2006-01-02T15:04:05.000Z")}
}

// urls returns the job's status URLs, under owner/app only.
func (s *Server) urls(j *job) map[string]any {
	base := s.URL + "/" + j.app + "/requests/" + j.id
	return map[string]any{
		"request_id":   j.id,
		"response_url": s.rewriteLocked("response_url", base),
		"status_url":   s.rewriteLocked("status_url", base+"/status"),
		"cancel_url":   s.rewriteLocked("cancel_url", base+"/cancel"),
	}
}

// rewriteLocked applies Behavior.RewriteURL; s.mu must be held.
func (s *Server) rewriteLocked(field, u string) string {
	if s.b.RewriteURL == nil {
		return u
	}
	return s.b.RewriteURL(field, u)
}

// appID returns owner/app of an endpoint id, or "" if it has too few
// segments (fal-js parseEndpointId).
func appID(endpointID string) string {
	segs := strings.Split(endpointID, "/")
	n := 2
	if segs[0] == "workflows" || segs[0] == "comfy" {
		n = 3
	}
	if len(segs) < n {
		return ""
	}
	for _, s := range segs {
		if s == "" {
			return ""
		}
	}
	return strings.Join(segs[:n], "/")
}

// handleSubmit queues a job: 200 IN_QUEUE with URLs under owner/app. The
// input is validated now but, like fal, the verdict waits for the result.
func (s *Server) handleSubmit(w http.ResponseWriter, r *http.Request, endpointID string, body []byte) {
	if !s.begin(w, r, StepSubmit, true) {
		return
	}
	app := appID(endpointID)
	if app == "" {
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Application not found"})
		return
	}
	var input map[string]any
	if err := json.Unmarshal(body, &input); err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": []any{map[string]any{
			"loc": []any{"body"}, "msg": "Input should be a valid dictionary", "type": "dict_type"}}})
		return
	}
	images, problems := s.validate(endpointID, input)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	j := &job{
		id:        fmt.Sprintf("%08x-fa1e-4000-8000-%012d", s.seq, s.seq),
		model:     endpointID,
		app:       app,
		submitted: time.Now(),
		input:     input,
		images:    images,
		problems:  problems,
	}
	s.jobs[j.id] = j
	s.submits = append(s.submits, Submit{RequestID: j.id, Model: endpointID, Input: input, Images: images})
	s.notifyLocked()
	resp := s.urls(j)
	resp["status"] = "IN_QUEUE"
	switch {
	case s.b.StuckInQueue:
		resp["queue_position"] = 5
	case s.b.QueueTime > 0:
		resp["queue_position"] = int(s.b.QueueTime / (100 * time.Millisecond))
	default:
		resp["queue_position"] = s.b.QueuedPolls
	}
	writeJSON(w, http.StatusOK, resp)
}

// lookup finds a job by id under the app it was submitted to; a job asked
// for under its full endpoint id is not found, like at fal.
func (s *Server) lookup(app, id string) *job {
	j := s.jobs[id]
	if j == nil || j.app != app {
		return nil
	}
	return j
}

// statusBody renders a state as fal's status JSON.
func (s *Server) statusBody(j *job, st state, withLogs bool) map[string]any {
	body := s.urls(j)
	body["status"] = st.status
	switch st.status {
	case "IN_QUEUE":
		body["queue_position"] = st.queuePosition
	case "IN_PROGRESS", "COMPLETED":
		if withLogs {
			body["logs"] = st.logs
		} else {
			body["logs"] = nil
		}
	}
	if st.status == "COMPLETED" {
		body["metrics"] = map[string]any{"inference_time": j.completed.Sub(j.submitted).Seconds()}
		switch {
		case j.cancelled:
			body["error"], body["error_type"] = "Request was cancelled", "client_cancelled"
		case s.b.CompletedError != "" || s.b.CompletedErrorType != "":
			body["error"], body["error_type"] = s.b.CompletedError, s.b.CompletedErrorType
		}
	}
	return body
}

// handleStatus answers 202 while IN_QUEUE / IN_PROGRESS and 200 when
// COMPLETED; each call is one poll.
func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request, app, id string) {
	call := StatusCall{RequestID: id, Path: r.URL.Path, Logs: r.URL.Query().Get("logs"), Time: time.Now()}
	record := func(code int, st state) {
		call.Code, call.Status, call.QueuePosition = code, st.status, st.queuePosition
		s.mu.Lock()
		s.statusCalls = append(s.statusCalls, call)
		s.notifyLocked()
		s.mu.Unlock()
	}
	if !s.begin(w, r, StepStatus, true) {
		record(0, state{})
		return
	}
	s.mu.Lock()
	j := s.lookup(app, id)
	if j == nil {
		s.mu.Unlock()
		record(http.StatusNotFound, state{})
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Request not found"})
		return
	}
	st := s.stateLocked(j, true)
	body := s.statusBody(j, st, logsWanted(r))
	s.mu.Unlock()
	code := http.StatusAccepted
	if st.status == "COMPLETED" {
		code = http.StatusOK
	}
	record(code, st)
	writeJSON(w, code, body)
}

// logsWanted reads ?logs=1|true (fal-js sends 1, fal_client true).
func logsWanted(r *http.Request) bool {
	v := r.URL.Query().Get("logs")
	return v == "1" || v == "true"
}

// handleStream answers the status as server-sent events until COMPLETED;
// each event is one poll.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request, app, id string) {
	if !s.begin(w, r, StepStatus, true) {
		return
	}
	s.mu.Lock()
	j := s.lookup(app, id)
	s.mu.Unlock()
	if j == nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Request not found"})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		st := s.stateLocked(j, true)
		body, _ := json.Marshal(s.statusBody(j, st, logsWanted(r)))
		s.mu.Unlock()
		fmt.Fprintf(w, "data: %s\n\n", body)
		rc.Flush()
		if st.status == "COMPLETED" {
			return
		}
		select {
		case <-tick.C:
		case <-r.Context().Done():
			return
		}
	}
}

// handleResult answers the model's output, or its 422, once the job is
// COMPLETED; 400 before, 404 after ResultTTL.
func (s *Server) handleResult(w http.ResponseWriter, r *http.Request, app, id string) {
	if !s.begin(w, r, StepResult, true) {
		return
	}
	s.mu.Lock()
	j := s.lookup(app, id)
	if j == nil {
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Request not found"})
		return
	}
	st := s.stateLocked(j, false)
	expired := st.status == "COMPLETED" && time.Since(j.completed) > s.b.ResultTTL
	var out map[string]any
	if st.status == "COMPLETED" && !j.cancelled && len(j.problems) == 0 {
		out = s.outputLocked(j.model, j.input, j.images, j.id)
	}
	cancelled, problems := j.cancelled, j.problems
	s.mu.Unlock()

	w.Header().Set("X-Fal-Request-Id", id)
	switch {
	case st.status != "COMPLETED":
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": "Request is still in progress"})
	case expired:
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Request not found"})
	case cancelled:
		w.Header().Set("X-Fal-Error-Type", "client_cancelled")
		writeJSON(w, 499, map[string]any{"detail": "Request was cancelled", "error_type": "client_cancelled"})
	case len(problems) > 0:
		writeProblems(w, problems)
	default:
		writeJSON(w, http.StatusOK, out)
	}
}

// handleCancel answers 202 CANCELLATION_REQUESTED for a running job, 400
// ALREADY_COMPLETED for a finished one, 404 NOT_FOUND otherwise.
func (s *Server) handleCancel(w http.ResponseWriter, r *http.Request, app, id string) {
	if !s.begin(w, r, StepCancel, true) {
		return
	}
	s.mu.Lock()
	c := Cancel{RequestID: id, Time: time.Now()}
	code := http.StatusAccepted
	switch j := s.lookup(app, id); {
	case j == nil:
		c.Outcome, code = "NOT_FOUND", http.StatusNotFound
	case !j.completed.IsZero() || j.cancelled:
		c.Outcome, code = "ALREADY_COMPLETED", http.StatusBadRequest
	default:
		c.Outcome = "CANCELLATION_REQUESTED"
		j.cancelled = true
	}
	s.cancels = append(s.cancels, c)
	s.notifyLocked()
	s.mu.Unlock()
	writeJSON(w, code, map[string]any{"status": c.Outcome})
}

// handleRun is the synchronous host: the output (or the 422) at once.
func (s *Server) handleRun(w http.ResponseWriter, r *http.Request, endpointID string, body []byte) {
	if !s.begin(w, r, StepRun, true) {
		return
	}
	var input map[string]any
	if appID(endpointID) == "" || json.Unmarshal(body, &input) != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": "Bad request"})
		return
	}
	images, problems := s.validate(endpointID, input)
	s.mu.Lock()
	s.submits = append(s.submits, Submit{Model: endpointID, Input: input, Images: images, Sync: true})
	s.notifyLocked()
	var out map[string]any
	if len(problems) == 0 {
		s.seq++
		out = s.outputLocked(endpointID, input, images, fmt.Sprintf("run-%d", s.seq))
	}
	s.mu.Unlock()
	if len(problems) > 0 {
		writeProblems(w, problems)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
