// Package apidoc serves the OpenAPI 3.1 document of the HTTP API and a
// readable page made from it. Both come from the one embedded document,
// completed with what the provider table says (the key headers and the
// provider names), and the server's tests validate real responses against
// it, so the documentation cannot drift from the code. No CDN: the page is
// plain HTML.
package apidoc

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"frameforge"
	"frameforge/internal/provider"
)

//go:embed openapi.json
var base []byte

// Doc is the document of one server, and its page.
type Doc struct {
	document []byte
	page     []byte
}

// New completes the embedded document with the providers' key headers and
// names, and renders the page from it.
func New(providers []provider.Info) *Doc {
	d := &Doc{document: withProviders(base, providers)}
	d.page = render(d.document)
	return d
}

// Document returns the OpenAPI document (a copy; callers may keep it).
func (d *Doc) Document() []byte { return bytes.Clone(d.document) }

// JSONHandler serves the document.
func (d *Doc) JSONHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(d.document)))
		_, _ = w.Write(d.document)
	})
}

// DocsHandler serves the document as an HTML page.
func (d *Doc) DocsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		h.Set("Content-Length", strconv.Itoa(len(d.page)))
		_, _ = w.Write(d.page)
	})
}

// withProviders puts the providers' key headers into POST /api/edit's
// parameters, their names into the ProviderName schema, and every error code
// into the Error schema. The embedded
// document lists neither, so a provider added to the table appears here with
// no edit to the document.
func withProviders(doc []byte, providers []provider.Info) []byte {
	var d map[string]any
	if err := json.Unmarshal(doc, &d); err != nil {
		panic("apidoc: embedded openapi.json is invalid: " + err.Error()) // caught by the package tests
	}
	op := dig(d, "paths", "/api/edit", "post")
	params, _ := op["parameters"].([]any)
	var names, examples []string
	for _, p := range providers {
		for _, h := range p.KeyHeaders {
			desc := fmt.Sprintf("%s key for this request only.", p.Label)
			if schemes := p.KeySchemes[h]; len(schemes) > 0 {
				desc = fmt.Sprintf("`%s <key>`: a %s key for this request only (compat).",
					strings.Join(schemes, " <key>` or `"), p.Label)
			}
			params = append(params, map[string]any{"name": h, "in": "header", "required": false,
				"description": desc, "schema": map[string]any{"type": "string"}})
		}
		// A prefixed provider with a default model also answers to its
		// bare id (provider.Entry.byName).
		if p.Prefix == "" || p.Model != "" {
			for _, n := range append([]string{p.ID}, p.Aliases...) {
				names = append(names, "`"+n+"`")
				examples = append(examples, n)
			}
		}
		if p.Prefix == "" {
			continue
		}
		names = append(names, "`"+p.Prefix+"<model>`")
		for _, m := range p.Models[:min(2, len(p.Models))] {
			examples = append(examples, p.Prefix+m)
		}
	}
	op["parameters"] = params
	// Every error code the server has, from the one list (frameforge.Codes).
	dig(d, "components", "schemas", "Error", "properties", "code")["enum"] = frameforge.Codes()
	pn := dig(d, "components", "schemas", "ProviderName")
	pn["description"] = strings.Join(names, ", ") + "; case-insensitive."
	pn["examples"] = examples
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		panic("apidoc: " + err.Error())
	}
	return out
}

// dig walks nested objects; the embedded document has every step.
func dig(d map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		d, _ = d[k].(map[string]any)
	}
	if d == nil {
		panic("apidoc: embedded openapi.json lacks " + strings.Join(keys, "."))
	}
	return d
}

type spec struct {
	Info struct {
		Title, Version, Summary, Description string
	}
	Paths      map[string]map[string]operation
	Components struct {
		Schemas map[string]json.RawMessage
	}
}

type operation struct {
	Summary, Description string
	Tags                 []string
	Parameters           []struct {
		Name, In, Description string
		Required              bool
	}
	Responses map[string]struct {
		Ref         string `json:"$ref"`
		Description string
	}
}

type opView struct {
	Method, Path string
	Op           operation
	Codes        []string
}

type schemaView struct {
	Name string
	JSON string
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Info.Title}} API</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2327}
h1{margin-bottom:0}code,pre{font:14px ui-monospace,monospace;background:#f4f5f6;border-radius:4px}
pre{padding:.75rem;overflow:auto}code{padding:0 .25rem}
section{border:1px solid #dde1e4;border-radius:8px;padding:0 1rem 1rem;margin:1rem 0}
.m{display:inline-block;min-width:3.5rem;font-weight:700;color:#fff;background:#2a6f97;border-radius:4px;text-align:center;margin-right:.5rem}
.post{background:#3a7d44}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eceff1;padding:.25rem .5rem;text-align:left;vertical-align:top}
</style></head><body>
<h1>{{.Info.Title}} API <small>{{.Info.Version}}</small></h1>
<p>{{.Info.Description}}</p>
<p>Machine-readable: <a href="/api/openapi.json">/api/openapi.json</a> (OpenAPI 3.1).</p>
{{range .Ops}}<section>
<h2><span class="m {{if eq .Method "POST"}}post{{end}}">{{.Method}}</span><code>{{.Path}}</code></h2>
<p><strong>{{.Op.Summary}}</strong></p>{{with .Op.Description}}<p>{{.}}</p>{{end}}
{{with .Op.Parameters}}<h3>Parameters</h3><table><tr><th>name</th><th>in</th><th>meaning</th></tr>
{{range .}}<tr><td><code>{{.Name}}</code></td><td>{{.In}}</td><td>{{.Description}}</td></tr>{{end}}</table>{{end}}
<h3>Responses</h3><table>{{$op := .Op}}{{range .Codes}}{{$r := index $op.Responses .}}<tr><td><code>{{.}}</code></td><td>{{if $r.Description}}{{$r.Description}}{{else}}JSON error (see <code>Error</code>){{end}}</td></tr>{{end}}</table>
</section>{{end}}
<h2>Schemas</h2>{{range .Schemas}}<h3 id="{{.Name}}">{{.Name}}</h3><pre>{{.JSON}}</pre>{{end}}
</body></html>`))

func render(document []byte) []byte {
	var s spec
	if err := json.Unmarshal(document, &s); err != nil {
		panic("apidoc: embedded openapi.json is invalid: " + err.Error()) // caught by the package tests
	}
	var data struct {
		Info    any
		Ops     []opView
		Schemas []schemaView
	}
	data.Info = s.Info
	paths := make([]string, 0, len(s.Paths))
	for p := range s.Paths {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		for _, m := range []string{"get", "post", "delete"} {
			op, ok := s.Paths[p][m]
			if !ok {
				continue
			}
			v := opView{Method: strings.ToUpper(m), Path: p, Op: op}
			for c := range op.Responses {
				v.Codes = append(v.Codes, c)
			}
			slices.Sort(v.Codes)
			data.Ops = append(data.Ops, v)
		}
	}
	names := make([]string, 0, len(s.Components.Schemas))
	for n := range s.Components.Schemas {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		var buf bytes.Buffer
		_ = json.Indent(&buf, s.Components.Schemas[n], "", "  ")
		data.Schemas = append(data.Schemas, schemaView{Name: n, JSON: buf.String()})
	}
	var out bytes.Buffer
	if err := pageTmpl.Execute(&out, data); err != nil {
		panic("apidoc: render: " + err.Error())
	}
	return out.Bytes()
}
