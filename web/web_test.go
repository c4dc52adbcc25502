package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func get(t *testing.T, h http.Handler, target string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// versioned lists the asset URLs a page or asset refers to.
var versioned = regexp.MustCompile(`/assets/[A-Za-z0-9_.-]+\?v=[0-9a-f]{12}`)

func TestPage(t *testing.T) {
	h := Handler(http.NotFoundHandler())
	resp := get(t, h, "/")
	page := body(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %d; want 200", resp.StatusCode)
	}
	for name, want := range map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Content-Security-Policy": PageCSP,
		"Cache-Control":           "no-cache",
		"X-Content-Type-Options":  "nosniff",
	} {
		if got := resp.Header.Get(name); got != want {
			t.Errorf("GET / %s = %q; want %q", name, got, want)
		}
	}
	if !strings.Contains(PageCSP, "script-src 'self';") || strings.Contains(PageCSP, "unsafe") {
		t.Errorf("CSP %q must allow only same-origin scripts and no unsafe-*", PageCSP)
	}
	// The CSP forbids inline script and style: the page must not need them.
	for _, bad := range []string{"<script>", "style=", "<style", " on" + "click="} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q, which its CSP blocks", bad)
		}
	}
	refs := versioned.FindAllString(page, -1)
	if len(refs) < 3 {
		t.Fatalf("the page refers to %d versioned assets; want the stylesheet, the script and the icon: %v", len(refs), refs)
	}
	if strings.Contains(versioned.ReplaceAllString(page, ""), "/assets/") {
		t.Error("the page refers to an asset without a version")
	}

	etag := resp.Header.Get("ETag")
	if resp := get(t, h, "/", "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("GET / If-None-Match %s = %d; want 304", etag, resp.StatusCode)
	}
}

func TestAssets(t *testing.T) {
	h := Handler(http.NotFoundHandler())
	page := body(t, get(t, h, "/"))
	types := map[string]string{
		".js":    "text/javascript; charset=utf-8",
		".css":   "text/css; charset=utf-8",
		".svg":   "image/svg+xml",
		".woff2": "font/woff2",
	}
	seen := map[string]bool{}
	queue := versioned.FindAllString(page, -1)
	for len(queue) > 0 {
		ref := queue[0]
		queue = queue[1:]
		if seen[ref] {
			continue
		}
		seen[ref] = true
		resp := get(t, h, ref)
		b := body(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d; want 200", ref, resp.StatusCode)
			continue
		}
		if got, want := resp.Header.Get("Cache-Control"), "public, max-age=31536000, immutable"; got != want {
			t.Errorf("GET %s Cache-Control = %q; want %q", ref, got, want)
		}
		ext := ref[strings.LastIndex(ref, "."):strings.Index(ref, "?")]
		if got := resp.Header.Get("Content-Type"); got != types[ext] {
			t.Errorf("GET %s Content-Type = %q; want %q", ref, got, types[ext])
		}
		// Modules and stylesheets refer to their siblings with versions too.
		for _, m := range regexp.MustCompile(`\./[A-Za-z0-9_.-]+\.(?:js|css|svg|woff2)(\?v=[0-9a-f]{12})?`).FindAllStringSubmatch(b, -1) {
			if m[1] == "" {
				t.Errorf("%s refers to %s without a version", ref, m[0])
				continue
			}
			queue = append(queue, "/assets/"+strings.TrimPrefix(m[0], "./"))
		}
	}
	if len(seen) < 8 {
		t.Errorf("reached %d assets from the page; want every module: %v", len(seen), seen)
	}

	// A stale or missing version still gets the file, without the long cache.
	for _, target := range []string{"/assets/app.js", "/assets/app.js?v=000000000000"} {
		resp := get(t, h, target)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s = %d, Cache-Control %q; want 200, no-cache", target, resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
	}
}

func TestUnknownPathsGoToNotFound(t *testing.T) {
	var called []string
	h := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called = append(called, r.URL.Path)
		w.WriteHeader(http.StatusTeapot)
	}))
	targets := []string{"/assets/nope.js", "/assets/", "/assets/../web.go", "/index.html", "/assets/sub/app.js"}
	for _, target := range targets {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.Path = target // as the mux hands it over, uncleaned
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusTeapot {
			t.Errorf("GET %s = %d; want the notFound handler's answer", target, rec.Code)
		}
	}
	if len(called) != len(targets) {
		t.Errorf("notFound called for %q; want each of %q", called, targets)
	}
}

// TestVersionsFollowImports checks that changing an imported module changes
// the version of the module importing it, so no browser keeps a stale tree.
func TestVersionsFollowImports(t *testing.T) {
	fsys := func(leaf string) fstest.MapFS {
		return fstest.MapFS{
			"static/index.html":      {Data: []byte(`<script type="module" src="/assets/app.js"></script>`)},
			"static/assets/app.js":   {Data: []byte(`import { x } from './leaf.js';`)},
			"static/assets/leaf.js":  {Data: []byte(leaf)},
			"static/assets/icon.svg": {Data: []byte(`<svg/>`)},
		}
	}
	a, err := build(fsys(`export const x = 1;`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := build(fsys(`export const x = 2;`))
	if err != nil {
		t.Fatal(err)
	}
	if a.assets["app.js"].version == b.assets["app.js"].version {
		t.Error("app.js kept its version when the module it imports changed")
	}
	if a.assets["icon.svg"].version != b.assets["icon.svg"].version {
		t.Error("icon.svg changed its version though it did not change")
	}
	if want := "./leaf.js?v=" + a.assets["leaf.js"].version; !strings.Contains(string(a.assets["app.js"].body), want) {
		t.Errorf("app.js = %s; want it to import %s", a.assets["app.js"].body, want)
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name  string
		files fstest.MapFS
		want  string
	}{
		{"missing asset in page", fstest.MapFS{
			"static/index.html":    {Data: []byte(`<link href="/assets/gone.css">`)},
			"static/assets/app.js": {Data: []byte(``)},
		}, `missing asset "gone.css"`},
		{"missing import", fstest.MapFS{
			"static/index.html":    {Data: []byte(``)},
			"static/assets/app.js": {Data: []byte(`import './gone.js';`)},
		}, `missing asset "gone.js"`},
		{"cycle", fstest.MapFS{
			"static/index.html":   {Data: []byte(``)},
			"static/assets/a.js":  {Data: []byte(`import './b.js';`)},
			"static/assets/b.js":  {Data: []byte(`import './a.js';`)},
			"static/assets/c.css": {Data: []byte(``)},
		}, "cycle"},
		{"unknown type", fstest.MapFS{
			"static/index.html":     {Data: []byte(``)},
			"static/assets/app.exe": {Data: []byte(``)},
		}, "unknown file type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := build(tt.files)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("build() error = %v; want one containing %q", err, tt.want)
			}
		})
	}
}

// BenchmarkBuild is the page's preparation, which runs once at start-up
// beside the migrations (docs/performance.md, "Start-up").
func BenchmarkBuild(b *testing.B) {
	for range b.N {
		if _, err := build(static); err != nil {
			b.Fatal(err)
		}
	}
}
