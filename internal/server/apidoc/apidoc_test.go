package apidoc

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDocsPageListsEveryOperation(t *testing.T) {
	var s spec
	if err := json.Unmarshal(document, &s); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	DocsHandler().ServeHTTP(w, httptest.NewRequest("GET", "/api/docs", nil))
	page := w.Body.String()
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET /api/docs = %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	for path, ops := range s.Paths {
		for m := range ops {
			if !strings.Contains(page, "<code>"+path+"</code>") || !strings.Contains(page, strings.ToUpper(m)) {
				t.Errorf("page lacks %s %s", strings.ToUpper(m), path)
			}
		}
	}
	// Served by the binary alone: no script, stylesheet or font from anywhere.
	for _, tag := range []string{"<script", "<link", "@import", "url("} {
		if strings.Contains(page, tag) {
			t.Errorf("page contains %q: it must need nothing but itself", tag)
		}
	}
}

func TestJSONHandler(t *testing.T) {
	w := httptest.NewRecorder()
	JSONHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/openapi.json", nil))
	var doc map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || doc["openapi"] != "3.1.0" {
		t.Errorf("document = %v, %v; want OpenAPI 3.1.0", doc["openapi"], err)
	}
}
