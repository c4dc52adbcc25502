// Package geminitest is a scripted fake of the Gemini Developer API
// (generativelanguage.googleapis.com) for tests. It speaks the REST wire
// protocol described in docs/providers.md, Gemini: the unary and SSE endpoints,
// x-goog-api-key or ?key= auth, google.rpc.Status error bodies, camelCase
// answers. Point the official SDK at it with HTTPOptions.BaseURL = s.URL.
//
// Every request is recorded; each request that passes validation consumes
// the next scripted Scenario, or the default one when the script is empty.
package geminitest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultKey is the valid API key unless WithKey sets another.
const DefaultKey = "AIzaFAKE-geminitest-0123456789abcdefghij"

// DefaultMaxRequestBytes is the body cap: the documented 20 MB inline limit.
const DefaultMaxRequestBytes = 20 << 20

// DefaultModels are the model ids the fake serves unless WithModels says
// otherwise: the GA image models. Retired ids such as
// gemini-2.5-flash-image-preview answer 404 like the real API.
func DefaultModels() []string {
	return []string{"gemini-3.1-flash-image", "gemini-3-pro-image", "gemini-3.1-flash-lite-image", "gemini-2.5-flash-image"}
}

// Part is one decoded request part.
type Part struct {
	Text     string
	MIMEType string // inline data only
	Data     []byte // inline data, base64-decoded
	Thought  bool
}

// Content is one decoded request content.
type Content struct {
	Role  string
	Parts []Part
}

// Request is what the fake saw of one request and how it answered.
type Request struct {
	Method       string
	RawPath      string // escaped path as sent, e.g. /v1beta/models/gemini-3.1-flash-image:generateContent
	RawQuery     string
	APIVersion   string // "v1beta"
	Model        string // model id from the path, without "models/"
	Action       string // "generateContent" or "streamGenerateContent"
	APIKey       string // the key the client sent (header or query)
	KeyFromQuery bool   // the key came as ?key=
	Streamed     bool   // streamGenerateContent
	Header       http.Header
	Contents     []Content
	// GenerationConfig is generationConfig (or generation_config) as sent.
	GenerationConfig map[string]any
	Scenario         Kind      // the scripted answer; meaningful when Scripted
	Scripted         bool      // the request passed validation and consumed a scenario
	Status           int       // HTTP status answered; 0 when the connection was dropped
	ImageSent        []byte    // the final (non-thought) image answered, if any
	Received         time.Time // when the request arrived
	Cancelled        bool      // the client went away before the fake finished answering
	// BodyBytes is how many body bytes an EndlessBody, GzipBomb or Trickle
	// answer wrote (as sent: compressed for GzipBomb) before the client
	// went away. It is final once Cancelled is set or the fake closed.
	BodyBytes int64
	// BodyDone is set when the writer of such an answer has stopped
	// (the client went away, or the fake closed).
	BodyDone bool
}

// Parts returns the parts of every content, in order.
func (r Request) Parts() []Part {
	var ps []Part
	for _, c := range r.Contents {
		ps = append(ps, c.Parts...)
	}
	return ps
}

// Option configures a Server.
type Option func(*Server)

// WithKey sets the one valid API key.
func WithKey(key string) Option { return func(s *Server) { s.Key = key } }

// WithModels sets the model ids the fake serves; others answer 404.
func WithModels(models ...string) Option {
	return func(s *Server) { s.models = slices.Clone(models) }
}

// WithMaxRequestBytes sets the request body cap (400 INVALID_ARGUMENT above it).
func WithMaxRequestBytes(n int64) Option { return func(s *Server) { s.maxBytes = n } }

// WithDefault sets the scenario used when the script is empty.
func WithDefault(sc Scenario) Option { return func(s *Server) { s.def = sc } }

// WithPromptScenario answers sc, instead of the default scenario, to every
// request whose prompt text contains keyword (case-sensitive; thought parts
// are ignored). Scripted scenarios still come first. It lets a long-running
// fake (cmd/fakeupstream) be steered per request by a client that can only
// choose the prompt, such as a browser test that needs one slow edit. When
// several keywords match, the first option given wins.
func WithPromptScenario(keyword string, sc Scenario) Option {
	return func(s *Server) { s.byPrompt = append(s.byPrompt, promptScenario{keyword, sc}) }
}

type promptScenario struct {
	keyword string
	sc      Scenario
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL to give the SDK (HTTPOptions.BaseURL).
	URL string
	// Key is the valid API key.
	Key string

	ts       *httptest.Server
	models   []string
	maxBytes int64
	done     chan struct{} // closed at cleanup so delayed handlers let Close finish
	noRecord bool

	byPrompt []promptScenario // immutable after New

	mu      sync.Mutex
	def     Scenario
	script  []Scenario
	reqs    []*Request
	seq     int
	changed chan struct{} // closed and replaced on every record change
}

// NewServer starts a fake and closes it when tb's test ends.
func NewServer(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := New(opts...)
	s.ts = httptest.NewServer(s)
	s.URL = s.ts.URL + "/"
	tb.Cleanup(func() {
		close(s.done)
		s.ts.Close()
	})
	return s
}

// New returns a fake that is not listening yet: serve it yourself (a
// stand-alone fake upstream for load tests and browser tests) and set URL.
func New(opts ...Option) *Server {
	s := &Server{
		Key:      DefaultKey,
		models:   DefaultModels(),
		maxBytes: DefaultMaxRequestBytes,
		done:     make(chan struct{}),
		changed:  make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// NoRecord stops keeping requests (a long-running fake must not grow).
func NoRecord() Option { return func(s *Server) { s.noRecord = true } }

// Client returns an *http.Client for the fake (no proxy, fresh transport).
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Script queues scenarios, consumed one per valid request in order.
func (s *Server) Script(scenarios ...Scenario) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, scenarios...)
}

// SetDefault sets the scenario used when the script is empty.
func (s *Server) SetDefault(sc Scenario) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.def = sc
}

// Requests returns a snapshot of every request so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.reqs))
	for i, r := range s.reqs {
		out[i] = *r
	}
	return out
}

// Reset forgets the recorded requests (benchmarks call it so that recorded
// bodies do not pile up) and the remaining script.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = nil
	s.script = nil
	s.notifyLocked()
}

// WaitFor waits until cond holds for the recorded requests or timeout
// passes, and reports whether it held. It wakes on every record change, so
// tests need not sleep.
func (s *Server) WaitFor(timeout time.Duration, cond func([]Request) bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond(s.Requests()) {
			return true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return cond(s.Requests())
		}
	}
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) update(rec *Request, f func(*Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(rec)
	s.notifyLocked()
}

// next returns the scenario for a valid request: the next scripted one,
// else the first prompt scenario whose keyword the prompt contains, else the
// default.
func (s *Server) next(contents []Content) Scenario {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.script) == 0 {
		for _, ps := range s.byPrompt {
			if promptContains(contents, ps.keyword) {
				return ps.sc
			}
		}
		return s.def
	}
	sc := s.script[0]
	s.script = s.script[1:]
	return sc
}

func promptContains(contents []Content, keyword string) bool {
	for _, c := range contents {
		for _, p := range c.Parts {
			if !p.Thought && p.Data == nil && strings.Contains(p.Text, keyword) {
				return true
			}
		}
	}
	return false
}

// ServeHTTP implements the fake API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &Request{
		Method:   r.Method,
		RawPath:  r.URL.EscapedPath(),
		RawQuery: r.URL.RawQuery,
		Header:   r.Header.Clone(),
		Received: time.Now(),
	}
	s.mu.Lock()
	if !s.noRecord {
		s.reqs = append(s.reqs, rec)
	}
	s.seq++
	seq := s.seq
	s.notifyLocked()
	s.mu.Unlock()

	defer func() {
		if r.Context().Err() != nil {
			s.update(rec, func(r *Request) { r.Cancelled = true })
		}
	}()

	version, model, action, ok := parsePath(rec.RawPath)
	if !ok {
		s.writeError(w, rec, rpcStatus{Code: http.StatusNotFound, Status: "NOT_FOUND",
			Message: "Requested entity was not found."})
		return
	}
	s.update(rec, func(q *Request) {
		q.APIVersion, q.Model, q.Action = version, model, action
		q.Streamed = action == "streamGenerateContent"
	})
	if r.Method != http.MethodPost {
		s.writeError(w, rec, rpcStatus{Code: http.StatusMethodNotAllowed, Status: "INVALID_ARGUMENT",
			Message: "Method " + r.Method + " is not allowed; use POST."})
		return
	}

	key, fromQuery := r.Header.Get("x-goog-api-key"), false
	if key == "" {
		key, fromQuery = r.URL.Query().Get("key"), true
	}
	s.update(rec, func(q *Request) { q.APIKey, q.KeyFromQuery = key, fromQuery && key != "" })
	switch {
	case key == "":
		s.writeError(w, rec, rpcStatus{Code: http.StatusForbidden, Status: "PERMISSION_DENIED", Message: msgUnregistered})
		return
	case key != s.Key:
		s.writeError(w, rec, keyInvalidStatus())
		return
	}
	if !slices.Contains(s.models, model) {
		s.writeError(w, rec, modelNotFoundStatus(model, version, action))
		return
	}

	contents, gc, st := s.readBody(w, r)
	s.update(rec, func(q *Request) { q.Contents, q.GenerationConfig = contents, gc })
	if st != nil {
		s.writeError(w, rec, *st)
		return
	}

	sc := s.next(contents)
	s.update(rec, func(q *Request) { q.Scenario, q.Scripted = sc.Kind, true })
	if sc.Delay > 0 {
		t := time.NewTimer(sc.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return // the deferred check records the cancellation
		case <-s.done:
			t.Stop()
			return
		}
	}
	if s.writeHostile(w, r, rec, sc) {
		return
	}
	a := s.answer(sc, rec, gc, key, contents, seq)
	if rec.Streamed {
		s.writeStream(w, r, rec, a)
	} else {
		s.writeUnary(w, rec, a)
	}
}

// parsePath splits /{version}/models/{model}:{action}. The ':' is a literal
// in the last segment, so routing is done on the raw path by hand.
func parsePath(raw string) (version, model, action string, ok bool) {
	p, err := url.PathUnescape(raw)
	if err != nil {
		return "", "", "", false
	}
	p = strings.TrimPrefix(p, "/")
	version, rest, found := strings.Cut(p, "/")
	if !found || (version != "v1beta" && version != "v1" && version != "v1alpha") {
		return "", "", "", false
	}
	rest, found = strings.CutPrefix(rest, "models/")
	if !found {
		return "", "", "", false
	}
	i := strings.LastIndex(rest, ":")
	if i <= 0 {
		return "", "", "", false
	}
	model, action = rest[:i], rest[i+1:]
	if strings.Contains(model, "/") || (action != "generateContent" && action != "streamGenerateContent") {
		return "", "", "", false
	}
	return version, model, action, true
}

// readBody decodes and validates the request body. A non-nil status is the
// error to answer.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]Content, map[string]any, *rpcStatus) {
	invalid := func(msg string) *rpcStatus {
		return &rpcStatus{Code: http.StatusBadRequest, Status: "INVALID_ARGUMENT", Message: msg}
	}
	var buf bytes.Buffer
	if n := r.ContentLength; n > 0 && n <= s.maxBytes {
		buf.Grow(int(n) + bytes.MinRead) // one allocation for multi-MB bodies
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, s.maxBytes))
	body := buf.Bytes()
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, nil, invalid(fmt.Sprintf("Request payload size exceeds the limit: %d bytes.", s.maxBytes))
		}
		return nil, nil, invalid("Could not read the request body.")
	}
	var req wireRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, nil, invalid("Invalid JSON payload received. " + jsonProblem(err))
	}
	var gc map[string]any
	raw := req.GenerationConfig
	if len(raw) == 0 {
		raw = req.GenerationConfigSnake
	}
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &gc); err != nil {
			return nil, nil, invalid("Invalid JSON payload received. Unknown name \"generationConfig\": not an object.")
		}
	}
	if len(req.Contents) == 0 {
		return nil, gc, invalid("* GenerateContentRequest.contents: contents is not specified\n")
	}
	contents := make([]Content, 0, len(req.Contents))
	for ci, c := range req.Contents {
		if len(c.Parts) == 0 {
			return contents, gc, invalid(fmt.Sprintf("* GenerateContentRequest.contents[%d].parts: contents.parts must not be empty.\n", ci))
		}
		out := Content{Role: c.Role}
		for pi, p := range c.Parts {
			b := p.InlineData
			if b == nil {
				b = p.InlineDataSnake
			}
			switch {
			case b != nil:
				mime := b.MIMEType
				if mime == "" {
					mime = b.MIMETypeSnake
				}
				if !supportedInputMIME(mime) {
					return contents, gc, invalid("Unsupported MIME type: " + mime)
				}
				data, err := decodeBytes(b.Data)
				if err != nil {
					return contents, gc, invalid(fmt.Sprintf("Invalid value at 'contents[%d].parts[%d].inline_data.data' (TYPE_BYTES), Base64 decoding failed", ci, pi))
				}
				if len(data) == 0 {
					return contents, gc, invalid(fmt.Sprintf("* GenerateContentRequest.contents[%d].parts[%d].inline_data.data: inline data is empty.\n", ci, pi))
				}
				out.Parts = append(out.Parts, Part{MIMEType: mime, Data: data, Thought: p.Thought})
			case p.Text != nil:
				out.Parts = append(out.Parts, Part{Text: *p.Text, Thought: p.Thought})
			default:
				return contents, gc, invalid(fmt.Sprintf("* GenerateContentRequest.contents[%d].parts[%d].data: required oneof field 'data' must have one initialized field\n", ci, pi))
			}
		}
		contents = append(contents, out)
	}
	return contents, gc, nil
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "Syntax error at offset " + strconv.FormatInt(se.Offset, 10) + "."
	}
	return "Unexpected value."
}

// answer is the scripted outcome of one valid request, independent of
// whether it goes out unary or streamed.
type answer struct {
	kind   Kind
	resp   *response  // 200 answers
	err    *rpcStatus // JSON error answers
	status int        // Raw / HTML answers
	body   string
	ctype  string
}

func (s *Server) answer(sc Scenario, rec *Request, gc map[string]any, key string, contents []Content, seq int) answer {
	a := answer{kind: sc.Kind}
	switch sc.Kind {
	case RateLimited:
		st := rateLimitedStatus(rec.Model, sc)
		a.err = &st
		return a
	case Internal, MidStreamError:
		a.err = &rpcStatus{Code: http.StatusInternalServerError, Message: msgInternal, Status: "INTERNAL"}
		if sc.Kind == MidStreamError && rec.Streamed {
			break // first a good event, see writeStream
		}
		return a
	case Unavailable:
		st := unavailableStatus(sc)
		a.err = &st
		return a
	case PermissionDenied:
		a.err = &rpcStatus{Code: http.StatusForbidden, Message: msgLeaked, Status: "PERMISSION_DENIED"}
		return a
	case FailedPrecondition:
		a.err = &rpcStatus{Code: http.StatusBadRequest, Message: msgRegion, Status: "FAILED_PRECONDITION"}
		return a
	case InvalidArgument:
		a.err = &rpcStatus{Code: http.StatusBadRequest, Message: msgInvalidArg, Status: "INVALID_ARGUMENT"}
		return a
	case KeyInErrorBody:
		st := keyEchoStatus(key, sc)
		a.err = &st
		return a
	case BadGatewayHTML:
		a.status, a.body, a.ctype = http.StatusBadGateway, msgBadGateway, "text/html; charset=UTF-8"
		return a
	case Raw:
		a.status, a.body, a.ctype = sc.Status, sc.Body, sc.ContentType
		return a
	}
	a.resp = s.success(sc, rec, gc, contents, seq)
	return a
}

// success builds the 200 body of the content-bearing kinds.
func (s *Server) success(sc Scenario, rec *Request, gc map[string]any, contents []Content, seq int) *response {
	promptTokens, images := 0, 0
	for _, c := range contents {
		for _, p := range c.Parts {
			if p.Data != nil {
				promptTokens += 258
				images++
			} else {
				promptTokens += max(1, len(p.Text)/4)
			}
		}
	}
	resp := &response{
		ModelVersion: rec.Model,
		ResponseID:   fmt.Sprintf("ggt%06dfAkEiD", seq),
		UsageMetadata: usage{
			PromptTokenCount:    promptTokens,
			TotalTokenCount:     promptTokens,
			PromptTokensDetails: []modalityCount{{Modality: "TEXT", TokenCount: promptTokens - 258*images}},
		},
	}
	if images > 0 {
		resp.UsageMetadata.PromptTokensDetails = append(resp.UsageMetadata.PromptTokensDetails,
			modalityCount{Modality: "IMAGE", TokenCount: 258 * images})
	}
	if sc.Kind == PromptBlocked {
		reason := sc.BlockReason
		if reason == "" {
			reason = "PROHIBITED_CONTENT"
		}
		resp.PromptFeedback = &promptFeedback{BlockReason: reason}
		return resp
	}

	text := sc.Text
	if text == "" {
		text = defaultText
	}
	w, h := outputSize(gc)
	final := func() part {
		data, mime := sc.Image, sc.ImageMIME
		if data == nil {
			data = PNG(w, h, uint8(seq*37))
		}
		if mime == "" {
			mime = "image/png"
		}
		s.update(rec, func(q *Request) { q.ImageSent = data })
		return part{InlineData: &blob{MIMEType: mime, Data: data}}
	}
	cand := candidate{Content: content{Role: "model"}, FinishReason: "STOP"}
	var outText, outImages, thoughts int
	switch sc.Kind {
	case ImageAndText, MalformedJSON, Cut, Disconnect, MidStreamError:
		if wantsText(gc) || !wantsImage(gc) {
			cand.Content.Parts = append(cand.Content.Parts, part{Text: text})
			outText++
		}
		if wantsImage(gc) {
			cand.Content.Parts = append(cand.Content.Parts, final())
			outImages++
		}
	case ImageOnly:
		cand.Content.Parts = []part{final()}
		outImages++
	case Thoughts:
		cand.Content.Parts = []part{
			{Text: thoughtText, Thought: true},
			{InlineData: &blob{MIMEType: "image/png", Data: PNG(w, h, 200)}, Thought: true,
				ThoughtSignature: []byte("geminitest-thought-signature-draft")},
		}
		thoughts = 240
		if sc.DraftOnly {
			cand.FinishReason = sc.FinishReason
			if cand.FinishReason == "" {
				cand.FinishReason = "NO_IMAGE"
			}
			break
		}
		fp := final()
		fp.ThoughtSignature = []byte("geminitest-thought-signature-final")
		cand.Content.Parts = append(cand.Content.Parts, fp)
		outImages++
	case TextOnly:
		cand.Content.Parts = []part{{Text: text}}
		outText++
	case Finish:
		cand.FinishReason = sc.FinishReason
		if cand.FinishReason == "" {
			cand.FinishReason = "NO_IMAGE"
		}
		cand.FinishMessage = sc.FinishMessage
	}
	resp.Candidates = []candidate{cand}
	u := &resp.UsageMetadata
	u.CandidatesTokenCount = 1290*outImages + 12*outText
	u.ThoughtsTokenCount = thoughts
	u.TotalTokenCount = u.PromptTokenCount + u.CandidatesTokenCount + thoughts
	if outImages > 0 {
		u.CandidatesTokensDetails = append(u.CandidatesTokensDetails, modalityCount{Modality: "IMAGE", TokenCount: 1290 * outImages})
	}
	if outText > 0 {
		u.CandidatesTokensDetails = append(u.CandidatesTokensDetails, modalityCount{Modality: "TEXT", TokenCount: 12 * outText})
	}
	return resp
}

func (s *Server) writeError(w http.ResponseWriter, rec *Request, st rpcStatus) {
	s.update(rec, func(q *Request) { q.Status = st.Code })
	w.Header().Set("Content-Type", jsonContentType)
	w.WriteHeader(st.Code)
	_, _ = w.Write(encodeError(st))
}

func (s *Server) writeRaw(w http.ResponseWriter, rec *Request, a answer) {
	s.update(rec, func(q *Request) { q.Status = a.status })
	if a.ctype != "" {
		w.Header().Set("Content-Type", a.ctype)
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

func (s *Server) writeUnary(w http.ResponseWriter, rec *Request, a answer) {
	switch {
	case a.kind == Disconnect:
		panic(http.ErrAbortHandler) // closes the connection, nothing written
	case a.err != nil:
		s.writeError(w, rec, *a.err)
		return
	case a.resp == nil:
		s.writeRaw(w, rec, a)
		return
	}
	body, err := json.Marshal(a.resp)
	if err != nil {
		panic(err) // plain structs: cannot fail
	}
	switch a.kind {
	case MalformedJSON:
		body = body[:len(body)/2]
	case Cut:
		s.update(rec, func(q *Request) { q.Status = http.StatusOK })
		w.Header().Set("Content-Type", jsonContentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body[:len(body)/2])
		_ = http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler) // the client sees an unexpected EOF
	}
	s.update(rec, func(q *Request) { q.Status = http.StatusOK })
	w.Header().Set("Content-Type", jsonContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// events splits a response into SSE chunks the way the API streams: one
// part per event, every event a complete GenerateContentResponse, the
// finishReason only on the last.
func events(resp *response) []*response {
	if len(resp.Candidates) == 0 || len(resp.Candidates[0].Content.Parts) <= 1 {
		return []*response{resp}
	}
	c := resp.Candidates[0]
	out := make([]*response, 0, len(c.Content.Parts))
	for i, p := range c.Content.Parts {
		e := *resp
		ec := candidate{Content: content{Role: c.Content.Role, Parts: []part{p}}, Index: c.Index}
		if i == len(c.Content.Parts)-1 {
			ec.FinishReason, ec.FinishMessage = c.FinishReason, c.FinishMessage
		}
		e.Candidates = []candidate{ec}
		out = append(out, &e)
	}
	return out
}

func (s *Server) writeStream(w http.ResponseWriter, r *http.Request, rec *Request, a answer) {
	if a.kind == Disconnect {
		panic(http.ErrAbortHandler)
	}
	if a.resp == nil {
		// Errors before the stream starts are ordinary JSON error bodies.
		if a.err != nil {
			s.writeError(w, rec, *a.err)
		} else {
			s.writeRaw(w, rec, a)
		}
		return
	}
	if r.URL.Query().Get("alt") != "sse" {
		s.writeJSONArray(w, rec, a)
		return
	}
	rc := http.NewResponseController(w)
	s.update(rec, func(q *Request) { q.Status = http.StatusOK })
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	evs := events(a.resp)
	for i, e := range evs {
		data, err := json.Marshal(e)
		if err != nil {
			panic(err)
		}
		last := i == len(evs)-1
		switch {
		case a.kind == MalformedJSON && last:
			data = data[:len(data)/2]
		case a.kind == Cut && (i == 1 || (last && i == 0)):
			_, _ = fmt.Fprintf(w, "data: %s", data[:len(data)/2])
			_ = rc.Flush()
			panic(http.ErrAbortHandler) // no terminating chunk: a cut stream
		}
		if _, err := fmt.Fprintf(w, "data: %s\n\n", data); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		if a.kind == MidStreamError {
			// The API reports a failure after the stream started as one more
			// event holding a google.rpc.Status, then closes.
			_, _ = fmt.Fprintf(w, "data: %s\n\n", mustJSON(map[string]rpcStatus{"error": *a.err}))
			_ = rc.Flush()
			return
		}
	}
}

// writeJSONArray answers streamGenerateContent without alt=sse: one JSON
// array of responses.
func (s *Server) writeJSONArray(w http.ResponseWriter, rec *Request, a answer) {
	s.update(rec, func(q *Request) { q.Status = http.StatusOK })
	w.Header().Set("Content-Type", jsonContentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(mustJSON(events(a.resp)))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
