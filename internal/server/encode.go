package server

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// encode writes v as JSON with the given status. It marshals first so that
// Content-Length is known and a marshalling bug cannot leave half a body.
// No trailing newline: compat with FastAPI, whose bodies clients may compare.
func encode(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own types pass through here; failing to marshal one is a bug.
		b = []byte(`{"detail":"Internal error.","code":"internal_error"}`)
		status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
