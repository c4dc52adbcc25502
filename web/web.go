// Package web is FrameForge's staging page: plain HTML, CSS and JavaScript
// modules, embedded in the binary and served without a build step.
//
// Asset URLs carry a content hash (/assets/app.js?v=1a2b3c4d5e6f), computed
// when the handler is built, so browsers may cache them forever while a new
// binary is picked up at once: the page itself is always revalidated.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// assetRefs match a reference to a sibling asset: "/assets/name.ext" in the
// page and in assets, and "./name.ext" (relative imports, url()) in assets.
// Group 1 is the asset's file name.
var assetRefs = []*regexp.Regexp{
	regexp.MustCompile(`/assets/(` + assetName + `)\b`),
	regexp.MustCompile(`\./(` + assetName + `)\b`),
}

const assetName = `[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.(?:js|css|svg|png|webmanifest|woff2|txt)`

// contentTypes are the types of the files the page is made of; an asset
// with another extension is refused when the handler is built.
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".webmanifest": "application/manifest+json",
	".woff2":       "font/woff2",
	".txt":         "text/plain; charset=utf-8", // the fonts' licences travel with them
}

// refers marks the types that can refer to other assets, and so are
// rewritten; the rest (fonts, pictures, licences: about half the bytes) are
// not scanned, which halves the page's preparation at start-up
// (docs/performance.md, "Start-up").
var refers = map[string]bool{".html": true, ".js": true, ".css": true, ".svg": true, ".webmanifest": true}

// PageCSP is the Content-Security-Policy of the page: scripts, styles and
// requests only from this origin, images also from blob: (the photos and
// results held by the page) and data:. No inline script or style runs.
const PageCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// svgCSP keeps an SVG opened on its own from running script.
const svgCSP = "default-src 'none'; style-src 'unsafe-inline'"

const immutable = "public, max-age=31536000, immutable"

// file is one prepared response body.
type file struct {
	body    []byte
	ctype   string
	version string // short content hash; the ?v= that may be cached forever
}

// site is the prepared page and its assets, immutable after build.
type site struct {
	index    file
	assets   map[string]file // by file name, e.g. "app.js"
	notFound http.Handler
}

// Handler returns the handler of the staging page: GET / serves the page and
// GET /assets/{name} its styles, scripts and icons. Everything is read,
// versioned and rewritten here, once per call. Unknown paths go to notFound,
// so they are answered like every other unknown path of the server. Methods
// are the router's business: mount it on GET routes.
func Handler(notFound http.Handler) http.Handler {
	s, err := build(static)
	if err != nil {
		// The files are compiled in, so this is a bug caught by the tests.
		panic("web: " + err.Error())
	}
	s.notFound = notFound
	return s
}

// build reads static/index.html and static/assets/*, and rewrites every
// reference to an asset to its versioned URL. An asset's version hashes its
// content after its own references were rewritten, so changing a module also
// changes the version of each module importing it. It returns an error for a
// reference to a missing asset, an import cycle or an unknown file type.
func build(fsys fs.FS) (*site, error) {
	root, err := fs.Sub(fsys, "static")
	if err != nil {
		return nil, err
	}
	entries, err := fs.ReadDir(root, "assets")
	if err != nil {
		return nil, err
	}
	raw := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() {
			return nil, fmt.Errorf("assets/%s: subdirectories are not served", e.Name())
		}
		if _, ok := contentTypes[path.Ext(e.Name())]; !ok {
			return nil, fmt.Errorf("assets/%s: unknown file type", e.Name())
		}
		b, err := fs.ReadFile(root, "assets/"+e.Name())
		if err != nil {
			return nil, err
		}
		raw[e.Name()] = b
	}

	s := &site{assets: make(map[string]file, len(raw))}
	visiting := map[string]bool{}
	var prepare func(name string) (file, error)
	prepare = func(name string) (file, error) {
		if f, ok := s.assets[name]; ok {
			return f, nil
		}
		if visiting[name] {
			return file{}, fmt.Errorf("assets/%s: reference cycle", name)
		}
		visiting[name] = true
		if !refers[path.Ext(name)] { // fonts, pictures, licences: served as they are
			f := file{body: raw[name], ctype: contentTypes[path.Ext(name)], version: hash(raw[name])}
			s.assets[name] = f
			return f, nil
		}
		body, err := rewrite(raw[name], func(ref string) (file, error) {
			if _, ok := raw[ref]; !ok {
				return file{}, fmt.Errorf("assets/%s refers to the missing asset %q", name, ref)
			}
			return prepare(ref)
		})
		if err != nil {
			return file{}, err
		}
		f := file{body: body, ctype: contentTypes[path.Ext(name)], version: hash(body)}
		s.assets[name] = f
		return f, nil
	}
	for name := range raw {
		if _, err := prepare(name); err != nil {
			return nil, err
		}
	}

	page, err := fs.ReadFile(root, "index.html")
	if err != nil {
		return nil, err
	}
	page, err = rewrite(page, func(ref string) (file, error) {
		f, ok := s.assets[ref]
		if !ok {
			return file{}, fmt.Errorf("index.html refers to the missing asset %q", ref)
		}
		return f, nil
	})
	if err != nil {
		return nil, err
	}
	s.index = file{body: page, ctype: contentTypes[".html"], version: hash(page)}
	return s, nil
}

// rewrite appends ?v=<version> to every asset reference in b. Text that only
// looks like a reference (a "./x.js" inside a sentence) is rewritten too, which
// is harmless; a reference to a missing asset is an error.
func rewrite(b []byte, lookup func(name string) (file, error)) ([]byte, error) {
	var firstErr error
	// One pattern per prefix: a pattern that starts with a literal is found
	// by a fast substring search, an alternation of two by the slow general
	// matcher, which took 10 ms per start-up (docs/performance.md,
	// "Start-up"). No reference matches both.
	// Each match is found once, with its name's position: the version goes
	// right after the match.
	for _, re := range assetRefs {
		var out []byte
		last := 0
		for _, m := range re.FindAllSubmatchIndex(b, -1) {
			out = append(out, b[last:m[1]]...)
			last = m[1]
			f, err := lookup(string(b[m[2]:m[3]]))
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			out = append(out, "?v="+f.version...)
		}
		b = append(out, b[last:]...)
	}
	return b, firstErr
}

func hash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// ServeHTTP serves the page at / and the assets under /assets/.
func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if r.URL.Path == "/" {
		h.Set("Content-Security-Policy", PageCSP)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		serve(w, r, "index.html", s.index)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/assets/")
	f, found := s.assets[name]
	if !ok || !found {
		s.notFound.ServeHTTP(w, r)
		return
	}
	if r.URL.Query().Get("v") == f.version {
		h.Set("Cache-Control", immutable)
	} else {
		// An old or missing version still gets today's file, but only
		// the exact versioned URL may be kept forever.
		h.Set("Cache-Control", "no-cache")
	}
	if path.Ext(name) == ".svg" {
		h.Set("Content-Security-Policy", svgCSP)
	}
	serve(w, r, name, f)
}

// serve writes f with its type and a strong ETag; http.ServeContent answers
// If-None-Match with 304 and handles HEAD and ranges.
func serve(w http.ResponseWriter, r *http.Request, name string, f file) {
	w.Header().Set("Content-Type", f.ctype)
	w.Header().Set("ETag", `"`+f.version+`"`)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.body))
}
