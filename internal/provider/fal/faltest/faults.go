package faltest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// RequestError is one of fal's request (infrastructure) errors: the flat
// body {"detail","error_type"} plus the X-Fal-Error-Type header, e.g.
// RequestError(503, "runner_scheduling_failure", …) or
// RequestError(504, "request_timeout", "Request timed out").
func RequestError(status int, errorType, detail string) Fault {
	body, _ := json.Marshal(map[string]string{"detail": detail, "error_type": errorType})
	return Fault{Status: status, Header: map[string]string{"X-Fal-Error-Type": errorType}, Body: string(body)}
}

// RateLimited is a 429 with a Retry-After in whole seconds (0: no header).
// fal's 429 body is not documented; this one follows its other errors.
func RateLimited(retryAfter time.Duration) Fault {
	f := Fault{Status: 429, Body: `{"detail":"Too many concurrent requests"}`}
	if retryAfter > 0 {
		f.Header = map[string]string{"Retry-After": strconv.Itoa(int(retryAfter / time.Second))}
	}
	return f
}

// ValidationError is a model's 422 with one field error, as fal answers at
// the result fetch (or at submit).
func ValidationError(loc []any, msg, typ string) Fault {
	body, _ := json.Marshal(map[string]any{"detail": []any{map[string]any{
		"loc": loc, "msg": msg, "type": typ, "url": "https://docs.fal.ai/errors#" + typ}}})
	return Fault{Status: 422, Header: map[string]string{"X-Fal-Retryable": "false"}, Body: string(body)}
}

// ContentPolicyViolation is the 422 of fal's content checker; use it at
// StepResult, where it appears after a COMPLETED status.
func ContentPolicyViolation() Fault {
	return ValidationError([]any{"body", "prompt"},
		"The content could not be processed because it contained material flagged by a content checker.",
		"content_policy_violation")
}

// MalformedJSON answers status with a truncated JSON body.
func MalformedJSON(status int) Fault {
	return Fault{Status: status, Body: `{"status":"IN_QUEUE","request_id":`}
}

// IngressError is an nginx HTML page, what a proxy in front of fal answers.
func IngressError(status int) Fault {
	return Fault{Status: status, Header: map[string]string{"Content-Type": "text/html"},
		Body: "<html><head><title>" + strconv.Itoa(status) + "</title></head><body><center>nginx</center></body></html>"}
}

// KeyEcho is a 500 whose body repeats the fake's key, to prove a client never
// passes fal's body on.
func (s *Server) KeyEcho() Fault {
	return Fault{Status: 500, Body: `{"detail":"internal error while checking key ` + s.Key + `"}`}
}

// EndlessError is an error answer whose JSON body never ends.
func EndlessError(status int) Fault {
	return Fault{Status: status, Body: `{"detail":"`, Endless: []byte(strings.Repeat("x", 32<<10))}
}

// GzipBomb is an error answer with Content-Encoding: gzip whose members of
// 1 MiB of zeros each never end: about 1 KiB on the wire per MiB inflated.
func GzipBomb(status int) Fault {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	_, _ = zw.Write(make([]byte, 1<<20))
	_ = zw.Close()
	return Fault{Status: status, Header: map[string]string{"Content-Encoding": "gzip"}, Endless: b.Bytes()}
}

// Redirect answers status (a 3xx) with Location: to, as a hijacked or
// misconfigured front end might. A client following it would send the key
// (and a submit's photo) to another host.
func Redirect(status int, to string) Fault {
	return Fault{Status: status, Header: map[string]string{"Location": to}}
}
