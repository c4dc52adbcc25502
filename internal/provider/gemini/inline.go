package gemini

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"

	"google.golang.org/genai"
)

// Why this file exists: the SDK turns a request into JSON three times over
// (struct → JSON → map → JSON), and the base64 of every image is in each
// copy, held for the whole call — about 4.5× the image, for the seconds the
// model thinks. With 200 edits in flight that is gigabytes.
//
// So the SDK is given a small random marker in place of each image's bytes,
// and the transport below, which sees the finished JSON body, sends the body
// with each marker replaced by the base64 of the real image, encoded while
// the body is written. The bytes on the wire are exactly what the SDK would
// have sent; the SDK still builds the URL, headers and JSON and reads the
// answer. What stays in memory per edit is the prepared image we hold anyway.

// markerLen is the raw length of a marker: 18 random bytes, 24 base64
// characters without padding. Nobody can guess it into a prompt.
const markerLen = 18

// errMarkerMissing means the SDK's body did not carry a marker where we put
// it (an SDK change). Sending the marker instead of the photo would be a
// silent wrong edit, so the call fails instead.
var errMarkerMissing = errors.New("gemini: image marker missing from the request body")

// inlineImages maps each marker (as it appears in the JSON, base64 without
// quotes) to the image it stands for. It travels in the request's context
// from Edit to the transport.
type inlineImages struct {
	markers [][]byte
	data    [][]byte
}

type inlineKey struct{}

// inlineParts returns the parts for the SDK, with markers for image bytes,
// and the context that tells the transport what to put back.
func inlineParts(ctx context.Context, images [][]byte, types []string) (context.Context, []*genai.Part, error) {
	in := &inlineImages{}
	ps := make([]*genai.Part, 0, len(images))
	for i, data := range images {
		raw := make([]byte, markerLen)
		if _, err := rand.Read(raw); err != nil {
			return ctx, nil, err
		}
		in.markers = append(in.markers, base64.StdEncoding.AppendEncode(nil, raw))
		in.data = append(in.data, data)
		ps = append(ps, genai.NewPartFromBytes(raw, types[i]))
	}
	return context.WithValue(ctx, inlineKey{}, in), ps, nil
}

// inlineTransport puts the images back into request bodies whose context
// carries inlineImages; other requests pass through untouched.
type inlineTransport struct {
	base http.RoundTripper
}

func (t *inlineTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	in, ok := req.Context().Value(inlineKey{}).(*inlineImages)
	if !ok || req.Body == nil {
		return t.base.RoundTrip(req)
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	parts, size, err := in.splice(body)
	if err != nil {
		return nil, err
	}
	out := req.Clone(req.Context())
	out.ContentLength = size
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(newSpliceReader(parts)), nil }
	out.Body, _ = out.GetBody()
	return t.base.RoundTrip(out)
}

// splice cuts body at each quoted marker and returns the pieces in order:
// JSON text as is, images to be base64-encoded, plus the total length.
func (in *inlineImages) splice(body []byte) ([]piece, int64, error) {
	var parts []piece
	var size int64
	rest := body
	for i, m := range in.markers {
		quoted := make([]byte, 0, len(m)+2)
		quoted = append(append(append(quoted, '"'), m...), '"')
		at := bytes.Index(rest, quoted)
		if at < 0 || bytes.Contains(rest[at+len(quoted):], quoted) {
			return nil, 0, fmt.Errorf("%w (image %d)", errMarkerMissing, i+1)
		}
		text := rest[:at+1] // up to and including the opening quote
		parts = append(parts, piece{text: text}, piece{image: in.data[i]})
		size += int64(len(text) + base64.StdEncoding.EncodedLen(len(in.data[i])))
		rest = rest[at+len(quoted)-1:] // from the closing quote
	}
	parts = append(parts, piece{text: rest})
	return parts, size + int64(len(rest)), nil
}

// piece is a run of JSON text or an image sent as standard base64.
type piece struct {
	text  []byte
	image []byte
}

func newSpliceReader(parts []piece) io.Reader {
	rs := make([]io.Reader, len(parts))
	for i, p := range parts {
		if p.image != nil {
			rs[i] = &base64Reader{src: p.image}
		} else {
			rs[i] = bytes.NewReader(p.text)
		}
	}
	return io.MultiReader(rs...)
}

// base64Reader encodes src as standard base64 (with padding, as
// encoding/json writes []byte) straight into the reader's buffer.
type base64Reader struct {
	src     []byte
	pending []byte // encoded bytes a short Read could not take
	group   [4]byte
}

func (r *base64Reader) Read(p []byte) (int, error) {
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		return n, nil
	}
	if len(r.src) == 0 {
		return 0, io.EOF
	}
	enc := base64.StdEncoding
	if len(p) < 4 {
		k := min(3, len(r.src))
		out := r.group[:enc.EncodedLen(k)]
		enc.Encode(out, r.src[:k])
		r.src = r.src[k:]
		n := copy(p, out)
		r.pending = out[n:]
		return n, nil
	}
	// Whole groups of three only, so padding can appear only at the end.
	k := min(len(p)/4*3, len(r.src))
	enc.Encode(p, r.src[:k])
	r.src = r.src[k:]
	return enc.EncodedLen(k), nil
}
