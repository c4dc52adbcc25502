// Package redistest gives tests the Redis named by FRAMEFORGE_TEST_REDIS_URL
// (scripts/test starts a private one, see scripts/redis.sh).
//
// Without it the tests that need Redis are skipped, so `go test ./...` works
// on a machine without Redis; in CI (CI=true) they fail instead, so a CI run
// that lost its Redis cannot pass by skipping them.
package redistest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
)

// EnvVar names the variable that holds the test server's URL.
const EnvVar = "FRAMEFORGE_TEST_REDIS_URL"

// URL returns the test server's URL, or skips the test (fails it in CI)
// when none is set. It reads the environment itself: this is test set-up,
// chosen by whoever runs the tests.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvVar)
	if u == "" {
		msg := EnvVar + " is not set: this test needs Redis (bash scripts/test starts one; or run: export " +
			EnvVar + "=$(scripts/redis.sh start))"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return u
}

// Name returns a name no other test uses, for keys in the shared server.
func Name(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}
