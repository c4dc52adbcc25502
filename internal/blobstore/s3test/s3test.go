// Package s3test runs an S3-compatible server in-process
// (github.com/johannesboyne/gofakes3, in memory) for tests that go through
// the real S3 client (gocloud.dev/blob/s3blob on the AWS SDK v2): the bytes
// cross HTTP, signed, as they would to a real store.
package s3test

import (
	"io"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Server is a fake S3 holding one empty bucket.
type Server struct {
	URL     string // the server's base URL
	Bucket  string
	backend *s3mem.Backend
}

// New starts a server with an empty bucket, stopped when the test ends, and
// points the AWS SDK at test credentials through the environment (so it
// never looks for real ones: no shared files, no instance metadata). Tests
// that call it cannot run in parallel (t.Setenv).
func New(t testing.TB) *Server {
	t.Helper()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           "AKIDTEST",
		"AWS_SECRET_ACCESS_KEY":       "test-secret",
		"AWS_CONFIG_FILE":             filepath.Join(t.TempDir(), "none"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"),
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
	backend := s3mem.New()
	ts := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(ts.Close)
	s := &Server{URL: ts.URL, Bucket: "frameforge-test", backend: backend}
	if err := backend.CreateBucket(s.Bucket); err != nil {
		t.Fatal(err)
	}
	return s
}

// StorageURL is the STORAGE_URL that reaches the bucket.
func (s *Server) StorageURL() string {
	return "s3://" + s.Bucket + "?endpoint=" + s.URL + "&region=us-east-1&use_path_style=true"
}

// Keys lists the objects in the bucket whose keys start with prefix.
func (s *Server) Keys(t testing.TB, prefix string) []string {
	t.Helper()
	list, err := s.backend.ListBucket(s.Bucket, &gofakes3.Prefix{Prefix: prefix, HasPrefix: true}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, c := range list.Contents {
		keys = append(keys, c.Key)
	}
	return keys
}

// Object returns the stored bytes of key, as the server holds them.
func (s *Server) Object(t testing.TB, key string) []byte {
	t.Helper()
	obj, err := s.backend.GetObject(s.Bucket, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Contents.Close()
	b := make([]byte, obj.Size)
	if _, err := io.ReadFull(obj.Contents, b); err != nil {
		t.Fatal(err)
	}
	return b
}
