// Command echo is the physical baseline for FrameForge's fallback edit path:
// a bare net/http server that accepts the same multipart upload and writes
// the first file's bytes back, with nothing else (no checks, no logging, no
// middleware). FrameForge's /api/edit without a key is measured against it.
//
//	go run ./bench/echo -addr 127.0.0.1:9200
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9200", "listen address")
	flag.Parse()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/edit", func(w http.ResponseWriter, r *http.Request) {
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, "not multipart", http.StatusBadRequest)
			return
		}
		var first []byte
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				http.Error(w, "bad multipart", http.StatusBadRequest)
				return
			}
			var buf bytes.Buffer
			if _, err := buf.ReadFrom(p); err != nil {
				http.Error(w, "bad multipart", http.StatusBadRequest)
				return
			}
			if first == nil && p.FileName() != "" {
				first = buf.Bytes()
			}
		}
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Content-Length", strconv.Itoa(len(first)))
		w.Write(first)
	})
	mux.HandleFunc("GET /api/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`)
	})
	fmt.Println("echo baseline listening on", *addr)
	if err := http.ListenAndServe(*addr, mux); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
