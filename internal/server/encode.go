package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// marshalJSON is json.Marshal without HTML escaping: our JSON is read by
// programs and people, never pasted into HTML, and escaping turns a detail
// like "Settings > Camera" into "Settings \u003e Camera". Every JSON body
// the server writes goes through it.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// jsonType is the Content-Type header value of every JSON answer; header
// values are never modified in place, so one slice serves all.
var jsonType = []string{"application/json"}

// encode writes v as JSON with the given status. It marshals first so that
// Content-Length is known and a marshalling bug cannot leave half a body.
// No trailing newline: compat with FastAPI, whose bodies clients may compare.
func encode(w http.ResponseWriter, status int, v any) {
	b, err := marshalJSON(v)
	if err != nil {
		// Only our own types pass through here; failing to marshal one is a bug.
		b = []byte(`{"detail":"Internal error.","code":"internal_error"}`)
		status = http.StatusInternalServerError
	}
	writeJSON(w, status, b, []string{strconv.Itoa(len(b))})
}

// writeJSON writes an encoded JSON body and its length (the header value,
// which an answer that never changes computes once).
func writeJSON(w http.ResponseWriter, status int, body []byte, length []string) {
	h := w.Header()
	h["Content-Type"] = jsonType // canonical keys: no Set, no canonicalising per answer
	h["Content-Length"] = length
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
