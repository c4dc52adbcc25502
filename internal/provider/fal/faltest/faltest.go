// Package faltest is a fake fal.ai for tests: one httptest server that plays
// the queue host, the run host (under /run), the REST storage host and the
// CDN, speaking the protocol of docs/providers.md, fal.ai. It validates
// inputs per model like fal does (errors surface at the result fetch while
// the status still reaches COMPLETED), records every request, and has
// switchable faults. It is a regular package so other packages' tests can
// use it.
package faltest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Step names the endpoint a fault or delay applies to.
type Step string

// Steps of the protocol.
const (
	StepSubmit    Step = "submit"     // POST /{endpoint_id}
	StepStatus    Step = "status"     // GET /{owner}/{app}/requests/{id}/status
	StepResult    Step = "result"     // GET /{owner}/{app}/requests/{id}
	StepCancel    Step = "cancel"     // PUT /{owner}/{app}/requests/{id}/cancel
	StepRun       Step = "run"        // POST /run/{endpoint_id} (synchronous host)
	StepUpload    Step = "upload"     // POST /storage/upload/initiate
	StepUploadPut Step = "upload-put" // PUT of the bytes to the signed upload URL
	StepFile      Step = "file"       // GET /files/… (CDN)
)

// Behavior holds the fake's switches. The zero value of each field is a
// healthy fal; New sets QueuedPolls and RunningPolls to 1 and ResultTTL to
// 6 minutes.
type Behavior struct {
	// QueuedPolls and RunningPolls are how many status polls are answered
	// IN_QUEUE (queue_position counting down to 0) and IN_PROGRESS before
	// COMPLETED.
	QueuedPolls, RunningPolls int
	// QueueTime and RunTime, when either is set, replace the poll counts:
	// the job is IN_QUEUE for QueueTime after submit, then IN_PROGRESS for
	// RunTime, then COMPLETED, however often it is polled.
	QueueTime, RunTime time.Duration
	// StuckInQueue keeps every job IN_QUEUE with a queue_position that
	// grows by one per poll (a congested model).
	StuckInQueue bool
	// NSFW sets has_nsfw_concepts to true for every image of the flux and
	// qwen output shapes (the models that have the field).
	NSFW bool
	// OutputURLs answers CDN URLs even when sync_mode is true, as some
	// models do.
	OutputURLs bool
	// BrokenOutputURL answers CDN URLs that 404 (implies OutputURLs).
	BrokenOutputURL bool
	// NoImages answers an output with an empty images array.
	NoImages bool
	// Output, when set, is the bytes of every output image instead of a
	// rendered solid colour (e.g. a photo-sized picture for a load run);
	// its content type is sniffed.
	Output []byte
	// CompletedError and CompletedErrorType are sent as error/error_type in
	// the COMPLETED status.
	CompletedError, CompletedErrorType string
	// ResultTTL is how long a result can be fetched after completion;
	// afterwards the result is 404.
	ResultTTL time.Duration
	// Delays slows a step down by the given time before it answers.
	Delays map[Step]time.Duration
	// RewriteURL, when set, replaces each URL the fake hands out in an
	// answer: field is "status_url", "response_url", "cancel_url" (submit
	// and status answers) or "images.url" (CDN result URLs). It lets a test
	// point a client somewhere it must not go. It runs under the fake's
	// lock and must not call the fake.
	RewriteURL func(field, url string) string
}

// Fault is a canned answer for a Step, given instead of the normal one after
// authentication has passed.
type Fault struct {
	Status int
	Header map[string]string // Content-Type defaults to application/json
	Body   string
	Times  int // answer it this many times, then behave again; 0: always
	// Endless, when set, follows Body with copies of Endless, written until
	// the client goes away (with Content-Encoding: gzip in Header and gzip
	// members here, a decompression bomb). Server.BodyBytes counts it.
	Endless []byte
}

// Request is one recorded HTTP request.
type Request struct {
	Method string
	Path   string
	Query  string
	Auth   string // the Authorization header as sent
	Body   []byte // JSON for queue and storage calls, raw bytes for uploads
	Time   time.Time
}

// Submit is one recorded job submission (queue or run host).
type Submit struct {
	RequestID string // "" for the run host
	Model     string // the endpoint id, decoded from the path
	Input     map[string]any
	Images    []InputImage // decoded image inputs, in order; nil if the input was invalid
	Sync      bool         // sent to the run host
}

// InputImage is one decoded image input.
type InputImage struct {
	Source      string // "data-uri" or the URL it was fetched from
	ContentType string // as declared by the data URI or the stored file
	Data        []byte
}

// StatusCall is one recorded status request and what it was answered.
type StatusCall struct {
	RequestID     string
	Path          string
	Logs          string // the logs query parameter
	Code          int    // HTTP status answered; 0 when auth or a Fault answered
	Status        string // IN_QUEUE, IN_PROGRESS, COMPLETED; "" for an error
	QueuePosition int
	Time          time.Time
}

// Cancel is one recorded cancel request.
type Cancel struct {
	RequestID string
	Outcome   string // CANCELLATION_REQUESTED, ALREADY_COMPLETED, NOT_FOUND
	Time      time.Time
}

// Upload is one file in the fake's storage.
type Upload struct {
	FileName    string
	ContentType string
	FileURL     string
	Data        []byte // nil until the PUT arrived
	PutAuth     string // Authorization header of the PUT (should be empty)
}

// Server is the fake fal. All methods are safe for concurrent use.
type Server struct {
	// URL is the base URL of every host: use it for QueueURL and RestURL,
	// and RunURL() for the synchronous host.
	URL string
	// Key is the accepted key, "<id>:<secret>"; LockedKey is answered with
	// fal's 403 "User is locked" (exhausted balance).
	Key, LockedKey string

	srv *httptest.Server

	mu          sync.Mutex
	changed     chan struct{} // closed and replaced on every recorded event
	b           Behavior
	faults      map[Step][]*Fault
	jobs        map[string]*job
	files       map[string]*Upload // by path under /files/
	pending     map[string]*Upload // by upload token
	uploads     []*Upload
	seq         int
	bodyBytes   int64
	requests    []Request
	submits     []Submit
	statusCalls []StatusCall
	cancels     []Cancel
}

// New starts a fake fal; tb's cleanup closes it.
func New(tb testing.TB) *Server {
	tb.Helper()
	s := NewUnstarted()
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL
	tb.Cleanup(s.Close)
	return s
}

// NewUnstarted returns a fake that is not listening: serve it yourself (a
// stand-alone fake upstream for load and browser tests) and set URL. Close
// and Client work only on a fake from New.
func NewUnstarted() *Server {
	return &Server{
		Key:       "faltest-id:" + randomHex(16),
		LockedKey: "faltest-locked:" + randomHex(16),
		changed:   make(chan struct{}),
		b:         Behavior{QueuedPolls: 1, RunningPolls: 1, ResultTTL: 6 * time.Minute},
		faults:    map[Step][]*Fault{},
		jobs:      map[string]*job{},
		files:     map[string]*Upload{},
		pending:   map[string]*Upload{},
	}
}

// ServeHTTP answers one request of any of the fake's hosts.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.serve(w, r) }

// Close shuts the server down. Requests still sleeping in a delay end when
// their client goes away.
func (s *Server) Close() { s.srv.Close() }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// RunURL is the base URL of the synchronous (run) host.
func (s *Server) RunURL() string { return s.URL + "/run" }

// Configure changes the behaviour; f runs under the server's lock.
func (s *Server) Configure(f func(b *Behavior)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.b)
}

// FailAt queues a fault for a step; several faults for a step are used in
// order.
func (s *Server) FailAt(step Step, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[step] = append(s.faults[step], &f)
}

// ClearFaults removes every queued fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = map[Step][]*Fault{}
}

// Requests returns every request received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Submits returns every job submission, in order.
func (s *Server) Submits() []Submit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Submit(nil), s.submits...)
}

// StatusCalls returns every status request, in order.
func (s *Server) StatusCalls() []StatusCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]StatusCall(nil), s.statusCalls...)
}

// Cancels returns every cancel request, in order.
func (s *Server) Cancels() []Cancel {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Cancel(nil), s.cancels...)
}

// Uploads returns every file initiated in storage, in order of initiation.
func (s *Server) Uploads() []Upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Upload
	for _, u := range s.uploads {
		out = append(out, *u)
	}
	return out
}

// Wait blocks until cond holds, re-checking after every recorded request or
// answer, or until ctx ends. It lets a test act at a protocol moment (say,
// the first IN_PROGRESS answer) without sleeping.
func (s *Server) Wait(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// notifyLocked wakes Wait; s.mu must be held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// serve records the request and routes it by path: the storage and CDN
// paths, the run host under /run, else the queue (owner/app is two segments,
// three for workflows/ and comfy/).
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, Request{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Auth: r.Header.Get("Authorization"), Body: body, Time: time.Now(),
	})
	s.notifyLocked()
	s.mu.Unlock()

	path := strings.Trim(r.URL.Path, "/")
	segs := strings.Split(path, "/")
	switch {
	case r.Method == http.MethodPost && path == "storage/upload/initiate":
		s.handleInitiate(w, r, body)
	case r.Method == http.MethodPut && segs[0] == "upload" && len(segs) == 2:
		s.handleUploadPut(w, r, segs[1], body)
	case r.Method == http.MethodGet && segs[0] == "files":
		s.handleFile(w, r, strings.TrimPrefix(path, "files/"))
	case r.Method == http.MethodPost && segs[0] == "run" && len(segs) > 1:
		s.handleRun(w, r, strings.TrimPrefix(path, "run/"), body)
	default:
		appLen := 2
		if segs[0] == "workflows" || segs[0] == "comfy" {
			appLen = 3
		}
		if len(segs) >= appLen+2 && segs[appLen] == "requests" {
			app, id, rest := strings.Join(segs[:appLen], "/"), segs[appLen+1], strings.Join(segs[appLen+2:], "/")
			switch {
			case r.Method == http.MethodGet && rest == "":
				s.handleResult(w, r, app, id)
				return
			case r.Method == http.MethodGet && rest == "status":
				s.handleStatus(w, r, app, id)
				return
			case r.Method == http.MethodGet && rest == "status/stream":
				s.handleStream(w, r, app, id)
				return
			case r.Method == http.MethodPut && rest == "cancel":
				s.handleCancel(w, r, app, id)
				return
			}
		}
		if r.Method == http.MethodPost {
			s.handleSubmit(w, r, path, body)
			return
		}
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Not Found"})
	}
}

// begin runs the common prelude of a step: the delay, authentication (when
// auth is set) and a queued fault. It returns false when it has answered.
func (s *Server) begin(w http.ResponseWriter, r *http.Request, step Step, auth bool) bool {
	s.mu.Lock()
	d := s.b.Delays[step]
	s.mu.Unlock()
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return false
		}
	}
	if auth && !s.authorize(w, r) {
		return false
	}
	s.mu.Lock()
	var f *Fault
	if q := s.faults[step]; len(q) > 0 {
		f = q[0]
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				s.faults[step] = q[1:]
			}
		}
	}
	s.mu.Unlock()
	if f == nil {
		return true
	}
	ct := "application/json"
	for k, v := range f.Header {
		if http.CanonicalHeaderKey(k) == "Content-Type" {
			ct = v
			continue
		}
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(f.Status)
	io.WriteString(w, f.Body)
	if f.Endless != nil {
		s.writeEndless(w, r, f.Endless)
	}
	return false
}

// writeEndless writes chunk until the client goes away.
func (s *Server) writeEndless(w http.ResponseWriter, r *http.Request, chunk []byte) {
	rc := http.NewResponseController(w)
	for r.Context().Err() == nil {
		n, err := w.Write(chunk)
		if err == nil {
			err = rc.Flush()
		}
		s.mu.Lock()
		s.bodyBytes += int64(n)
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// BodyBytes is how many bytes of Fault.Endless bodies were written so far.
func (s *Server) BodyBytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bodyBytes
}

// authorize checks Authorization: Key <id>:<secret> like fal does.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) bool {
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Key ")
	switch {
	case !ok || !strings.Contains(key, ":"):
		writeJSON(w, http.StatusUnauthorized, map[string]any{
			"detail": "Invalid Key Authorization header format. Expected '<key_id>:<key_secret>'."})
	case key == s.LockedKey:
		writeJSON(w, http.StatusForbidden, map[string]any{
			"detail": "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing."})
	case key != s.Key:
		writeJSON(w, http.StatusUnauthorized, map[string]any{"detail": "No user found for Key ID and Secret"})
	default:
		return true
	}
	return false
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
