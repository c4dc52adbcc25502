// Package sqlq holds what the stores that share one database (jobs, API
// tokens) need to write one query for both SQLite and PostgreSQL.
package sqlq

import (
	"strconv"
	"strings"
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
