package server

import (
	"net/http"

	"frameforge/internal/provider"
	"frameforge/internal/server/apidoc"
	"frameforge/web"
)

// prepared is a handler built in the background from the moment the server
// is made; a request that comes before it is ready waits for it.
//
// Why (docs/performance.md, "Start-up"): the staging page (web.Handler
// hashes and rewrites every asset) and the API documentation (apidoc.New
// renders the OpenAPI document and its page) took 30–60 ms of the time from
// exec to the first answer on the 2-core machine, though neither is needed
// by a probe, a job or an edit. Built beside the listener, they are ready
// long before a person opens the page. A build that fails panics as it
// would have at start: the files are compiled in, so that is a bug the
// tests catch.
func prepared(build func() http.Handler) http.Handler {
	var h http.Handler
	ready := make(chan struct{})
	go func() {
		defer close(ready)
		h = build()
	}()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-ready
		h.ServeHTTP(w, r)
	})
}

// preparedWeb is the staging page, prepared in the background.
func preparedWeb(notFound http.Handler) http.Handler {
	return prepared(func() http.Handler { return web.Handler(notFound) })
}

// preparedDocs are the OpenAPI document and its page, from one document
// prepared in the background.
func preparedDocs(providers []provider.Info) (jsonDoc, page http.Handler) {
	var j, p http.Handler
	ready := make(chan struct{})
	go func() {
		defer close(ready)
		d := apidoc.New(providers)
		j, p = d.JSONHandler(), d.DocsHandler()
	}()
	wait := func(h *http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-ready
			(*h).ServeHTTP(w, r)
		})
	}
	return wait(&j), wait(&p)
}
