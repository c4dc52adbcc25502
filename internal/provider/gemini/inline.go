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

	"frameforge/internal/httpbody"
)

// Why this file exists: the SDK turns a request into JSON three times over
// (struct → JSON → map → JSON), and the base64 of every image is in each
// copy, held for the whole call — about 4.5× the image, for the seconds the
// model thinks. Answers go the same way back (body → map → JSON → struct),
// about 9× the edited image. With 200 edits in flight that is gigabytes.
//
// So the SDK is given a small random marker in place of each image's bytes,
// and the transport below, which sees the finished JSON body, sends the body
// with each marker replaced by the base64 of the real image, encoded while
// the body is written. The bytes on the wire are exactly what the SDK would
// have sent. On the way back, the transport decodes each large inlineData
// "data" string of a 200 answer itself and hands the SDK a marker in its
// place, which imageFrom swaps back. The SDK still builds the URL, headers
// and JSON, and reads every field of the answer; only image bytes bypass it.

// markerLen is the raw length of a marker: 18 random bytes, 24 base64
// characters without padding. Nobody can guess it into a prompt.
const markerLen = 18

// errMarkerMissing means the SDK's body did not carry a marker where we put
// it (an SDK change). Sending the marker instead of the photo would be a
// silent wrong edit, so the call fails instead.
var errMarkerMissing = errors.New("gemini: image marker missing from the request body")

// minAnswerData is the shortest answer "data" string the transport decodes
// itself; shorter ones are left to the SDK.
const minAnswerData = 1 << 10

// inlineImages is one edit's bypass: each marker (as it appears in the
// request JSON, base64 without quotes) with the image it stands for, and the
// images taken out of answers, by their raw marker. It travels in the
// request's context from Edit to the transport; one edit's attempts run one
// after another, never at once.
type inlineImages struct {
	markers [][]byte
	data    [][]byte
	answers map[string][]byte
}

type inlineKey struct{}

// inlineParts returns the parts for the SDK, with markers for image bytes,
// and the bypass the transport finds in a context made by withInline.
func inlineParts(images [][]byte, types []string) (*inlineImages, []*genai.Part, error) {
	in := &inlineImages{answers: map[string][]byte{}}
	ps := make([]*genai.Part, 0, len(images))
	for i, data := range images {
		raw := make([]byte, markerLen)
		if _, err := rand.Read(raw); err != nil {
			return nil, nil, err
		}
		in.markers = append(in.markers, base64.StdEncoding.AppendEncode(nil, raw))
		in.data = append(in.data, data)
		ps = append(ps, genai.NewPartFromBytes(raw, types[i]))
	}
	return in, ps, nil
}

// withInline returns ctx carrying in to the transport.
func withInline(ctx context.Context, in *inlineImages) context.Context {
	return context.WithValue(ctx, inlineKey{}, in)
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
	resp, err := t.base.RoundTrip(out)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	answer, err := httpbody.Read(resp.Body, resp.ContentLength, maxAnswerBytes)
	resp.Body.Close()
	if err != nil {
		return nil, err // retried as a transport error: in.data stays
	}
	// A whole 200 answer ends the edit's attempts, whatever it says: let go
	// of the images, so the upload can be collected while the answer is
	// handled and sent on.
	in.data = nil
	answer = in.takeImages(answer)
	resp.Body = io.NopCloser(bytes.NewReader(answer))
	resp.ContentLength = int64(len(answer))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// maxAnswerBytes bounds an answer we read: the largest real ones (a 4K PNG
// in base64) are tens of megabytes.
const maxAnswerBytes = 128 << 20

// dataKey is the JSON key of a Blob's bytes.
var dataKey = []byte(`"data"`)

// takeImages decodes every long standard-base64 "data" string of a JSON
// answer, keeps the bytes under a fresh marker, and returns the answer with
// the marker's base64 in the string's place (rewritten in body's own
// storage: the result is never longer). Strings it cannot take as they are
// (escapes, other encodings) are left for the SDK, which then decides.
func (in *inlineImages) takeImages(body []byte) []byte {
	out := body[:0]
	rest := body
	for {
		at := bytes.Index(rest, dataKey)
		if at < 0 {
			break
		}
		// A key starts at a real quote: one not preceded by an odd run of
		// backslashes (that would be a quote inside a string).
		slashes := 0
		for i := at - 1; i >= 0 && rest[i] == '\\'; i-- {
			slashes++
		}
		v := at + len(dataKey)
		v = skipSpace(rest, v)
		ok := slashes%2 == 0 && v < len(rest) && rest[v] == ':'
		if ok {
			v = skipSpace(rest, v+1)
			ok = v < len(rest) && rest[v] == '"'
		}
		if !ok {
			out = append(out, rest[:at+len(dataKey)]...)
			rest = rest[at+len(dataKey):]
			continue
		}
		start := v + 1
		end := bytes.IndexByte(rest[start:], '"')
		if end < 0 {
			break
		}
		end += start
		value := rest[start:end]
		marker, took := in.take(value)
		out = append(out, rest[:start]...)
		if took {
			out = append(out, marker...)
		} else {
			out = append(out, value...)
		}
		rest = rest[end:]
	}
	return append(out, rest...)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// take decodes one base64 value into a kept image and returns the base64 of
// its marker; false when the value is short, escaped or not standard base64.
func (in *inlineImages) take(value []byte) ([]byte, bool) {
	if len(value) < minAnswerData || bytes.IndexByte(value, '\\') >= 0 {
		return nil, false
	}
	enc := base64.StdEncoding
	img := make([]byte, enc.DecodedLen(len(value)))
	n, err := enc.Decode(img, value)
	if err != nil {
		return nil, false
	}
	raw := make([]byte, markerLen)
	if _, err := rand.Read(raw); err != nil {
		return nil, false
	}
	in.answers[string(raw)] = img[:n]
	return enc.AppendEncode(nil, raw), true
}

// answer returns the image a decoded marker stands for, or data itself when
// it is not one of this edit's markers.
func (in *inlineImages) answer(data []byte) []byte {
	if img, ok := in.answers[string(data)]; ok {
		return img
	}
	return data
}

// splice cuts body at each quoted marker and returns the pieces in order:
// JSON text as is, images to be base64-encoded, plus the total length.
func (in *inlineImages) splice(body []byte) ([]piece, int64, error) {
	if in.data == nil {
		// A request after a whole 200 answer: never meant to happen.
		return nil, 0, fmt.Errorf("%w (the images were released after an answer)", errMarkerMissing)
	}
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
