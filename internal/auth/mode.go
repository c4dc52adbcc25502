// Package auth is FrameForge's API tokens: who may make the server spend its
// provider keys (the mode), the tokens themselves (made and revoked with
// `frameforge tokens`, kept only as hashes), and what each token may spend
// (a rate and a quota of successful edits per period), stored in the same
// database as the jobs so every replica and the CLI see one truth. See
// docs/auth.md.
package auth

import (
	"fmt"
	"net/netip"
	"strings"
)

// Mode says whether the image routes need a token.
type Mode string

// The modes (AUTH). Auto is only a setting: Resolve turns it into Off or
// Required.
const (
	Off      Mode = "off"
	Required Mode = "required"
	Auto     Mode = "auto"
)

// Resolve decides the mode in force and says why, for the start-up log.
// Auto is Required when the server both listens beyond this machine (host is
// not loopback) and holds a provider key of its own, because only then can
// strangers spend the operator's money; otherwise Off.
func Resolve(setting Mode, host string, serverKey bool) (Mode, string) {
	switch setting {
	case Off:
		return Off, "AUTH=off"
	case Required:
		return Required, "AUTH=required"
	}
	loop := Loopback(host)
	switch {
	case !loop && serverKey:
		return Required, fmt.Sprintf("AUTH=auto: listening on %s (not loopback) with a provider key of the server's own", describeHost(host))
	case loop:
		return Off, fmt.Sprintf("AUTH=auto: listening on %s, loopback only", describeHost(host))
	}
	return Off, fmt.Sprintf("AUTH=auto: listening on %s, but the server holds no provider key (clients bring their own)", describeHost(host))
}

// Loopback reports whether host names only this machine: an address in
// 127.0.0.0/8, ::1, or "localhost". The wildcard addresses (0.0.0.0, ::, or
// an empty host) and any other name count as reachable from outside: a name
// may resolve to anything.
func Loopback(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(strings.Trim(strings.TrimSpace(host), "[]")), ".")
	if h == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.Unmap().IsLoopback()
}

func describeHost(h string) string {
	if h == "" {
		return "every interface"
	}
	return h
}
