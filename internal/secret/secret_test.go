package secret_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"frameforge/internal/secret"
)

func TestLoadValue(t *testing.T) {
	raw := bytes.Repeat([]byte{0xab, 0x01}, 16) // 32 bytes
	long := bytes.Repeat([]byte{7}, 48)
	tests := []struct {
		name, value string
		want        []byte
	}{
		{"hex", hex.EncodeToString(raw), raw},
		{"hex upper case with newline", strings.ToUpper(hex.EncodeToString(raw)) + "\n", raw},
		{"base64 std", base64.StdEncoding.EncodeToString(long), long},
		{"base64 url unpadded", base64.RawURLEncoding.EncodeToString(raw), raw},
		{"passphrase used as it is", "correct horse battery staple, twice over", []byte("correct horse battery staple, twice over")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			got, err := secret.Load(tt.value, dir, "secret")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("Load(%q) = %x, want %x", tt.value, got, tt.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "secret")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a file was written although SECRET_KEY was given (stat: %v)", err)
			}
		})
	}
}

func TestLoadValueTooShort(t *testing.T) {
	for _, v := range []string{"hunter2", hex.EncodeToString(make([]byte, 15))} {
		_, err := secret.Load(v, t.TempDir(), "secret")
		if err == nil {
			t.Errorf("Load(%q) accepted a short secret", v)
			continue
		}
		if !strings.Contains(err.Error(), "SECRET_KEY") || strings.Contains(err.Error(), v) {
			t.Errorf("Load(%q) error %q should name SECRET_KEY and not repeat the value", v, err)
		}
	}
}

func TestLoadFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first, err := secret.Load("", dir, "secret_key")
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 32 {
		t.Errorf("generated secret has %d bytes, want 32", len(first))
	}
	path := filepath.Join(dir, "secret_key")
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("secret file mode = %04o, want 0600", perm)
	}
	if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode = %v (err %v), want 0700", info.Mode().Perm(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %d entries, want only the secret file", len(entries))
	}

	second, err := secret.Load("", dir, "secret_key")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Error("second Load returned a different secret; want the one in the file")
	}

	// The file's content can be given as SECRET_KEY to another replica.
	content, _ := os.ReadFile(path)
	fromValue, err := secret.Load(string(content), t.TempDir(), "secret_key")
	if err != nil || !bytes.Equal(fromValue, first) {
		t.Errorf("Load(file content as SECRET_KEY) = %x, %v; want the same secret", fromValue, err)
	}
}

func TestLoadFileTooOpen(t *testing.T) {
	dir := t.TempDir()
	if _, err := secret.Load("", dir, "secret_key"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "secret_key")
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := secret.Load("", dir, "secret_key")
	if err == nil || !strings.Contains(err.Error(), "0644") {
		t.Errorf("Load of a 0644 secret file: err = %v, want a refusal naming the mode", err)
	}
}

func TestLoadConcurrent(t *testing.T) {
	dir := t.TempDir()
	const n = 16
	got := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			got[i], errs[i] = secret.Load("", dir, "secret_key")
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Load %d: %v", i, errs[i])
		}
		if !bytes.Equal(got[i], got[0]) {
			t.Fatalf("Load %d returned %x, Load 0 returned %x: concurrent loads disagree", i, got[i], got[0])
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %d entries after concurrent loads, want 1 (temporary files left behind?)", len(entries))
	}
}

func newSealer(t *testing.T, s string) *secret.Sealer {
	t.Helper()
	sealer, err := secret.NewSealer([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return sealer
}

func TestSealRoundTrip(t *testing.T) {
	s := newSealer(t, strings.Repeat("k", 32))
	plain := []byte("AIza-provider-key")
	ad := []byte("job_abc")
	a, b := s.Seal(plain, ad), s.Seal(plain, ad)
	if bytes.Equal(a, b) {
		t.Error("two seals of the same message are equal; want fresh nonces")
	}
	if bytes.Contains(a, plain) {
		t.Error("sealed message contains the plaintext")
	}
	got, err := s.Open(a, ad)
	if err != nil || !bytes.Equal(got, plain) {
		t.Errorf("Open = %q, %v; want %q", got, err, plain)
	}
	// Another Sealer from the same secret (another replica) opens it too.
	got, err = newSealer(t, strings.Repeat("k", 32)).Open(b, ad)
	if err != nil || !bytes.Equal(got, plain) {
		t.Errorf("Open by a second Sealer = %q, %v; want %q", got, err, plain)
	}
}

func TestOpenRefuses(t *testing.T) {
	s := newSealer(t, strings.Repeat("k", 32))
	sealed := s.Seal([]byte("AIza-provider-key"), []byte("job_abc"))
	flipped := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 1
		return c
	}
	tests := []struct {
		name   string
		sealer *secret.Sealer
		sealed []byte
		ad     string
	}{
		{"other associated data", s, sealed, "job_xyz"},
		{"tampered nonce", s, flipped(0), "job_abc"},
		{"tampered ciphertext", s, flipped(30), "job_abc"},
		{"tampered tag", s, flipped(len(sealed) - 1), "job_abc"},
		{"truncated", s, sealed[:len(sealed)-1], "job_abc"},
		{"too short for a nonce", s, sealed[:10], "job_abc"},
		{"other secret", newSealer(t, strings.Repeat("j", 32)), sealed, "job_abc"},
	}
	for _, tt := range tests {
		got, err := tt.sealer.Open(tt.sealed, []byte(tt.ad))
		if !errors.Is(err, secret.ErrOpen) {
			t.Errorf("%s: Open = %q, %v; want ErrOpen", tt.name, got, err)
		}
	}
}

func TestNewSealerShortSecret(t *testing.T) {
	if _, err := secret.NewSealer(make([]byte, 16)); err == nil {
		t.Error("NewSealer accepted a 16-byte secret")
	}
}
