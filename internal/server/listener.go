package server

import (
	"bytes"
	"net"
	"net/http"
	"strconv"

	"frameforge"
)

// JSONErrors wraps a listener so that the answers net/http writes itself,
// before any handler runs, are JSON errors like every other: 431 for headers
// over the limit, 400 for a malformed request, 501 for an unknown transfer
// encoding, 417 for an Expect other than 100-continue. Anything else it
// writes this way (505 for an HTTP version it does not speak) stays plain
// text. net/http offers no hook for these, so the connection recognises the
// exact shape it writes them in: a status line followed by
// "Content-Type: text/plain; charset=utf-8" and "Connection: close", in that
// order (a handler's answer lists Connection before Content-Type, sorted),
// or a 417 status line.
func JSONErrors(ln net.Listener) net.Listener { return jsonErrListener{ln} }

type jsonErrListener struct{ net.Listener }

func (l jsonErrListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return jsonErrConn{c}, nil
}

type jsonErrConn struct{ net.Conn }

// plainErrorHeaders is what net/http writes after the status line of its own
// error answers.
const plainErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c jsonErrConn) Write(p []byte) (int, error) {
	if out, ok := jsonError(p); ok {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// jsonError returns the JSON version of one of net/http's own error
// answers, or false when p is not one.
func jsonError(p []byte) ([]byte, bool) {
	const proto = "HTTP/1.1 "
	if len(p) < len(proto)+3 || !bytes.HasPrefix(p, []byte(proto)) {
		return nil, false
	}
	status, err := strconv.Atoi(string(p[len(proto) : len(proto)+3]))
	if err != nil {
		return nil, false
	}
	line := bytes.Index(p, []byte("\r\n"))
	plain := line > 0 && bytes.HasPrefix(p[line:], []byte(plainErrorHeaders))
	var e *frameforge.Error
	switch {
	case status == http.StatusExpectationFailed:
		e = frameforge.Errorf(frameforge.EExpectationFailed, "Only the Expect value 100-continue is supported.")
	case !plain:
		return nil, false
	case status == http.StatusRequestHeaderFieldsTooLarge:
		e = frameforge.Errorf(frameforge.EHeadersTooLarge, "The request headers are too large.")
	case status == http.StatusBadRequest:
		e = frameforge.Errorf(frameforge.EInvalidRequest, "The request is not valid HTTP: %s",
			plainDetail(p[line+len(plainErrorHeaders):]))
	case status == http.StatusNotImplemented:
		e = frameforge.Errorf(frameforge.ENotImplemented, "The request's Transfer-Encoding is not supported.")
	default:
		return nil, false
	}
	body, _ := marshalJSON(errorBody{Detail: e.Message, Code: e.Code, RequestID: newRequestID()})
	var b bytes.Buffer
	b.WriteString(proto + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\n")
	b.WriteString("Content-Type: application/json\r\nConnection: close\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
	b.Write(body)
	return b.Bytes(), true
}

// plainDetail is net/http's own text ("400 Bad Request: missing required
// Host header") without its status, as a sentence.
func plainDetail(body []byte) string {
	s := "malformed request line or headers"
	if _, rest, ok := bytes.Cut(body, []byte(": ")); ok {
		s = string(rest)
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s + "."
}
