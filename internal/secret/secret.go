// Package secret holds the server secret and seals what must not be stored
// in clear, such as the per-request provider keys that queued jobs keep until
// they run.
//
// The secret comes from SECRET_KEY, or from a file in the data directory that
// the first start creates. Several replicas sharing one PostgreSQL queue must
// share one secret: a job sealed by one replica is opened by another. The
// generated file holds the secret as hex, so it can be copied into SECRET_KEY.
package secret

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
)

// MinLen is the shortest secret accepted, in bytes.
const MinLen = 32

// ErrOpen is returned by Open for anything it cannot authenticate: a wrong
// secret, other associated data, or a changed or truncated message.
var ErrOpen = errors.New("secret: message authentication failed")

// Load returns the server secret, never to be logged.
//
// value (SECRET_KEY) wins when set. It is read as hex, else as base64 (std or
// URL alphabet, padded or not), when that decodes to at least 32 bytes. Any
// other string of at least 32 characters is used as it is: the key derivation
// (HKDF) condenses it, so stretching it with a hash first would add nothing.
// Anything shorter is refused.
//
// Without value, the secret is read from dataDir/file. The first start creates
// it with 32 random bytes (as hex), mode 0600, in dataDir (created 0700 when
// missing). A file that group or others may read is refused rather than
// tightened: the secret may already have leaked, and the operator should know
// and choose a new one. Processes starting at once agree on one secret: the
// file appears complete in one step (a hard link), and whoever loses the race
// reads the winner's.
func Load(value, dataDir, file string) ([]byte, error) {
	if value != "" {
		b, err := parse(value)
		if err != nil {
			return nil, fmt.Errorf("SECRET_KEY: %w", err)
		}
		return b, nil
	}
	if file == "" {
		return nil, errors.New("secret: no SECRET_KEY and no file name")
	}
	path := filepath.Join(dataDir, file)
	b, err := read(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := create(dataDir, path); err != nil {
			return nil, err
		}
		b, err = read(path)
	}
	return b, err
}

func parse(value string) ([]byte, error) {
	v := strings.TrimSpace(value)
	if b, err := hex.DecodeString(v); err == nil && len(b) >= MinLen {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil && len(b) >= MinLen {
			return b, nil
		}
	}
	if len(v) >= MinLen {
		return []byte(v), nil
	}
	// The value itself stays out of the message: it may be most of a secret.
	return nil, fmt.Errorf("too short (%d characters): give at least %d random bytes as hex or base64, e.g. the output of: openssl rand -hex 32", len(v), MinLen)
}

func read(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("secret file %s has mode %04o, which lets others read it: choose a new secret (delete the file to have one generated) or, if nobody has read it, chmod 600 it", path, perm)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read secret file: %w", err)
	}
	b, err := parse(string(data))
	if err != nil {
		return nil, fmt.Errorf("secret file %s: %w", path, err)
	}
	return b, nil
}

// create writes a new secret to a temporary file and links it into place,
// so nobody ever reads a half-written file. When path appeared meanwhile,
// another process won and its secret stands.
func create(dataDir, path string) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("create secret: %w", err)
	}
	b := make([]byte, MinLen)
	rand.Read(b)
	tmp, err := os.CreateTemp(dataDir, ".secret-*")
	if err != nil {
		return fmt.Errorf("create secret: %w", err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file 0600 already; say it here too, as the
	// mode is what keeps the secret.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("create secret: %w", err)
	}
	_, err = tmp.WriteString(hex.EncodeToString(b) + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("create secret: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create secret: %w", err)
	}
	return nil
}

// providerKeysInfo separates the key that seals provider keys from any other
// key derived from the same secret; v1 leaves room to change the scheme.
const providerKeysInfo = "frameforge provider keys v1"

// Sealer encrypts and authenticates short messages with XChaCha20-Poly1305.
// Its 24-byte nonces are random: with that many bits, any number of messages
// a server will ever seal cannot repeat one by chance. It is safe for
// concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer derives the provider-key sealing key from secret (HKDF-SHA256,
// info "frameforge provider keys v1").
func NewSealer(secret []byte) (*Sealer, error) {
	if len(secret) < MinLen {
		return nil, fmt.Errorf("secret: need at least %d bytes, got %d", MinLen, len(secret))
	}
	key, err := hkdf.Key(sha256.New, secret, nil, providerKeysInfo, chacha20poly1305.KeySize)
	if err != nil {
		return nil, fmt.Errorf("secret: derive key: %w", err)
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal returns nonce || ciphertext. associatedData is authenticated but not
// stored: bind the message to its owner (a job id) so that a sealed key
// copied to another job does not open there.
func (s *Sealer) Seal(plaintext, associatedData []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, plaintext, associatedData)
}

// Open returns the plaintext of a Seal result, or ErrOpen.
func (s *Sealer) Open(sealed, associatedData []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, ErrOpen
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], associatedData)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}
