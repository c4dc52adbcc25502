package apidoc

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"frameforge/internal/envconf"
	"frameforge/internal/provider"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// builtin is the document of a server with the built-in provider table.
func builtin() *Doc {
	var entries []provider.Entry
	for _, s := range provider.Builtin() {
		// Each provider's default model, as the server would have it.
		setup := s.Load(envconf.New(func(string) string { return "" }))
		entries = append(entries, provider.Entry{Spec: s, Model: setup.Model})
	}
	return New(provider.NewRegistry(entries...).Describe())
}

// TestDocumentGolden pins the served document: a change to the API's
// description shows up in review as a diff of testdata/openapi.json
// (regenerate with go test ./internal/server/apidoc -update).
func TestDocumentGolden(t *testing.T) {
	got := builtin().Document()
	golden := filepath.Join("testdata", "openapi.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the document differs from %s; if the change is meant, run go test ./internal/server/apidoc -update and review the diff", golden)
	}
}

// TestDocumentFollowsTheTable: a provider added to the table appears with
// its key headers and its names, with no edit to the document.
func TestDocumentFollowsTheTable(t *testing.T) {
	extra := provider.Info{ID: "acme", Label: "Acme Images", Prefix: "acme:", Models: []string{"paint-1"},
		KeyHeaders: []string{"X-Acme-Key"}}
	d := New(append(builtin0(), extra))
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct{ Name, In, Description string }
		}
		Components struct {
			Schemas map[string]struct {
				Description string
				Examples    []string
			}
		}
	}
	if err := json.Unmarshal(d.Document(), &doc); err != nil {
		t.Fatal(err)
	}
	var headers []string
	for _, p := range doc.Paths["/api/edit"]["post"].Parameters {
		if p.In == "header" {
			headers = append(headers, p.Name)
		}
	}
	if got, want := strings.Join(headers, ","), "X-Google-API-Key,X-Gemini-API-Key,X-Fal-Key,Authorization,X-OpenAI-Key,X-Acme-Key"; got != want {
		t.Errorf("key headers = %s; want %s", got, want)
	}
	pn := doc.Components.Schemas["ProviderName"]
	if !strings.Contains(pn.Description, "`acme:<model>`") || !strings.Contains(strings.Join(pn.Examples, " "), "acme:paint-1") {
		t.Errorf("ProviderName = %+v; want the acme provider in it", pn)
	}
}

func builtin0() []provider.Info {
	var entries []provider.Entry
	for _, s := range provider.Builtin() {
		entries = append(entries, provider.Entry{Spec: s})
	}
	return provider.NewRegistry(entries...).Describe()
}

func TestDocsPageListsEveryOperation(t *testing.T) {
	d := builtin()
	var s spec
	if err := json.Unmarshal(d.Document(), &s); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	d.DocsHandler().ServeHTTP(w, httptest.NewRequest("GET", "/api/docs", nil))
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
	if !strings.Contains(page, "X-Fal-Key") {
		t.Error("page lacks the key headers of the provider table")
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
	builtin().JSONHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/openapi.json", nil))
	var doc map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || doc["openapi"] != "3.1.0" {
		t.Errorf("document = %v, %v; want OpenAPI 3.1.0", doc["openapi"], err)
	}
}
