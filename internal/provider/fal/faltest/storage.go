package faltest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// handleInitiate starts an upload (the fal-js flow; docs/providers.md, fal.ai: uploads): it answers a
// signed upload_url on this server and the file_url the bytes will have.
func (s *Server) handleInitiate(w http.ResponseWriter, r *http.Request, body []byte) {
	if !s.begin(w, r, StepUpload, true) {
		return
	}
	var req struct {
		ContentType string `json:"content_type"`
		FileName    string `json:"file_name"`
	}
	if json.Unmarshal(body, &req) != nil || req.ContentType == "" || req.FileName == "" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": []any{map[string]any{
			"loc": []any{"body", "content_type"}, "msg": "field required", "type": "missing"}}})
		return
	}
	s.mu.Lock()
	s.seq++
	token := randomHex(8)
	path := fmt.Sprintf("up%d/%s", s.seq, req.FileName) // as the CDN path decodes
	u := &Upload{FileName: req.FileName, ContentType: req.ContentType,
		FileURL: fmt.Sprintf("%s/files/up%d/%s", s.URL, s.seq, url.PathEscape(req.FileName))}
	s.pending[token] = u
	s.files[path] = u
	s.uploads = append(s.uploads, u)
	s.notifyLocked()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"upload_url": s.URL + "/upload/" + token + "?X-Goog-Signature=" + randomHex(16),
		"file_url":   u.FileURL,
	})
}

// handleUploadPut stores the bytes sent to a signed upload URL. Like a
// presigned URL it needs no key (and records one if sent).
func (s *Server) handleUploadPut(w http.ResponseWriter, r *http.Request, token string, body []byte) {
	if !s.begin(w, r, StepUploadPut, false) {
		return
	}
	s.mu.Lock()
	u := s.pending[token]
	if u != nil {
		delete(s.pending, token)
		u.Data = body
		u.PutAuth = r.Header.Get("Authorization")
		if ct := r.Header.Get("Content-Type"); ct != "" {
			u.ContentType = ct
		}
		s.notifyLocked()
	}
	s.mu.Unlock()
	if u == nil {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// handleFile serves a stored file, as the CDN does: no key needed.
func (s *Server) handleFile(w http.ResponseWriter, r *http.Request, path string) {
	if !s.begin(w, r, StepFile, false) {
		return
	}
	s.mu.Lock()
	u := s.files[path]
	var data []byte
	var ct string
	if u != nil {
		data, ct = u.Data, u.ContentType
	}
	s.mu.Unlock()
	if data == nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Not Found"})
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Write(data)
}
