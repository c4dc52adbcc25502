package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"math/big"
	"strings"
)

// Prefix starts every token, so a token is told apart from a provider key
// in the same header (and secret scanners can find one pasted somewhere).
const Prefix = "ff_"

// secretLen is the length of a token's random part: 256 bits in base62 is
// at most 43 digits; shorter numbers are padded with leading zeros.
const secretLen = 43

// newSecret returns a new token: "ff_" and 256 random bits in base62 (only
// letters and digits: nothing to escape in a header, a URL or a shell).
func newSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	s := new(big.Int).SetBytes(b[:]).Text(62)
	return Prefix + strings.Repeat("0", secretLen-len(s)) + s
}

// newID is a token's public id: "tok_" and 60 random bits. It names the
// token in lists, logs and job owners; it grants nothing.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "tok_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))[:12]
}

// hash is what is stored of a token. A token carries 256 random bits, so a
// fast hash is enough: nobody can guess one from its hash, and a leaked
// table gives away no token (a slow password hash is for guessable secrets).
func hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// sameHash compares two hashes in constant time.
func sameHash(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// wellFormed reports whether s could be a token at all, so garbage costs no
// database look-up.
func wellFormed(s string) bool {
	rest, ok := strings.CutPrefix(s, Prefix)
	if !ok || len(rest) != secretLen {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// IsToken reports whether a header value is one of ours: it starts with
// "ff_". A Bearer value without the prefix keeps its older meaning (a fal
// key).
func IsToken(v string) bool { return strings.HasPrefix(strings.TrimSpace(v), Prefix) }

// FromHeaders returns the token a request carries, from "X-API-Key: …"
// or "Authorization: Bearer ff_…" (X-API-Key wins), or "" when it carries
// none. X-API-Key has no other meaning, so whatever it holds is returned
// (and then found not valid); get is a header getter.
func FromHeaders(get func(string) string) string {
	if v := strings.TrimSpace(get("X-API-Key")); v != "" {
		return v
	}
	scheme, v, ok := strings.Cut(strings.TrimSpace(get("Authorization")), " ")
	if ok && strings.EqualFold(scheme, "Bearer") && IsToken(v) {
		return strings.TrimSpace(v)
	}
	return ""
}
