package geminitest

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"time"
)

// gzipMember is one gzip member holding 1 MiB of zeros (about 1 KiB
// compressed). Concatenated members are one valid gzip stream.
func gzipMember() []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	_, _ = zw.Write(make([]byte, 1<<20))
	_ = zw.Close()
	return b.Bytes()
}

// writeHostile answers the kinds that attack the client rather than speak
// the API: a redirect elsewhere and bodies that never end. It reports
// whether it answered.
func (s *Server) writeHostile(w http.ResponseWriter, r *http.Request, rec *Request, sc Scenario) bool {
	status := func(def int) int {
		if sc.Status != 0 {
			return sc.Status
		}
		return def
	}
	var chunk []byte
	pause := time.Duration(0)
	switch sc.Kind {
	case Redirect:
		code := status(http.StatusTemporaryRedirect)
		s.update(rec, func(q *Request) { q.Status = code })
		w.Header().Set("Location", sc.Location)
		w.WriteHeader(code)
		return true
	case EndlessBody:
		w.Header().Set("Content-Type", jsonContentType)
		chunk = []byte(strings.Repeat("x", 32<<10))
	case GzipBomb:
		w.Header().Set("Content-Type", jsonContentType)
		w.Header().Set("Content-Encoding", "gzip")
		chunk = gzipMember()
	case Trickle:
		w.Header().Set("Content-Type", jsonContentType)
		chunk, pause = []byte(" "), sc.Interval
		if pause <= 0 {
			pause = 50 * time.Millisecond
		}
	default:
		return false
	}
	defer s.update(rec, func(q *Request) { q.BodyDone = true })
	code := status(http.StatusInternalServerError)
	if sc.Kind == Trickle {
		code = status(http.StatusOK)
	}
	s.update(rec, func(q *Request) { q.Status = code })
	w.WriteHeader(code)
	if sc.Kind == EndlessBody {
		n, _ := io.WriteString(w, `{"error":{"code":500,"status":"INTERNAL","message":"`)
		s.update(rec, func(q *Request) { q.BodyBytes += int64(n) })
	}
	rc := http.NewResponseController(w)
	for {
		n, err := w.Write(chunk)
		if err == nil {
			err = rc.Flush()
		}
		s.update(rec, func(q *Request) { q.BodyBytes += int64(n) })
		if err != nil {
			return true
		}
		if pause > 0 {
			t := time.NewTimer(pause)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return true
			case <-s.done:
				t.Stop()
				return true
			}
		} else if r.Context().Err() != nil {
			return true
		}
		select {
		case <-s.done:
			return true
		default:
		}
	}
}
