// Package sqlq holds what the stores that share one database (jobs, API
// tokens) need to write one query for both SQLite and PostgreSQL.
package sqlq

import (
	"strconv"
	"strings"
	"time"
)

// Rebind rewrites ? placeholders as PostgreSQL's $1, $2, …. Queries are
// written once with ?, which SQLite takes as they are. No query of ours has
// a ? inside a string literal.
func Rebind(query string) string {
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// MS is t as the Unix milliseconds our tables keep times in; 0 for the zero
// time (never set).
func MS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// FromMS reads a milliseconds column back: 0 is the zero time.
func FromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}
