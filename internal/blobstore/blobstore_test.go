package blobstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"frameforge/internal/blobstore"
	"frameforge/internal/blobstore/s3test"
)

func open(t *testing.T, storageURL, dataDir string) *blobstore.Store {
	t.Helper()
	s, err := blobstore.Open(t.Context(), storageURL, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestDefaultIsFilesUnderDataDir(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	s := open(t, "", dataDir)
	ctx := t.Context()
	png := []byte("\x89PNG\r\n\x1a\n…")
	if err := s.Put(ctx, "jobs/job_abc/results/0", png, "image/png"); err != nil {
		t.Fatal(err)
	}

	objects := filepath.Join(dataDir, "objects")
	info, err := os.Stat(objects)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o700 {
		t.Errorf("objects dir mode = %04o, want 0700", perm)
	}
	onDisk, err := os.ReadFile(filepath.Join(objects, "jobs", "job_abc", "results", "0"))
	if err != nil || !bytes.Equal(onDisk, png) {
		t.Errorf("file on disk = %q, %v; want the bytes put", onDisk, err)
	}
	if got := s.String(); got != "file://"+filepath.ToSlash(objects) {
		t.Errorf("String() = %q, want file://%s", got, objects)
	}

	// A second Store on the same directory (the next start) reads it back,
	// content type included.
	again := open(t, "", dataDir)
	got, err := again.Get(ctx, "jobs/job_abc/results/0")
	if err != nil || !bytes.Equal(got, png) {
		t.Errorf("Get = %q, %v; want the bytes put", got, err)
	}
	r, size, ctype, err := again.Reader(ctx, "jobs/job_abc/results/0")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(body, png) || size != int64(len(png)) || ctype != "image/png" {
		t.Errorf("Reader = %q, %d, %q; want the bytes, %d, image/png", body, size, ctype, len(png))
	}
}

func TestFileURL(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blobs")
	s := open(t, "file://"+filepath.ToSlash(dir), "ignored")
	if err := s.Put(t.Context(), "jobs/job_abc/inputs/0", []byte("jpeg"), "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "jobs", "job_abc", "inputs", "0")); err != nil {
		t.Errorf("file:// store did not write under %s: %v", dir, err)
	}
	if _, err := os.Stat("ignored"); !errors.Is(err, os.ErrNotExist) {
		t.Error("a file:// store created the data dir it was told to ignore")
	}
}

func TestPutReplaces(t *testing.T) {
	s := open(t, "", t.TempDir())
	ctx := t.Context()
	for _, v := range []string{"first", "second"} {
		if err := s.Put(ctx, "k", []byte(v), "text/plain"); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.Get(ctx, "k"); err != nil || string(got) != "second" {
		t.Errorf("Get after two Puts = %q, %v; want second", got, err)
	}
}

func TestMissing(t *testing.T) {
	s := open(t, "", t.TempDir())
	ctx := t.Context()
	if _, err := s.Get(ctx, "jobs/nope/results/0"); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("Get(missing) error = %v, want ErrNotFound", err)
	}
	if _, _, _, err := s.Reader(ctx, "jobs/nope/results/0"); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("Reader(missing) error = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "jobs/nope/results/0"); err != nil {
		t.Errorf("Delete(missing) = %v, want nil", err)
	}
	if err := s.DeletePrefix(ctx, "jobs/nope/"); err != nil {
		t.Errorf("DeletePrefix(missing) = %v, want nil", err)
	}
}

func TestDelete(t *testing.T) {
	dataDir := t.TempDir()
	s := open(t, "", dataDir)
	ctx := t.Context()
	keys := []string{
		"jobs/job_abc/inputs/0", "jobs/job_abc/results/0", "jobs/job_abc/results/1",
		"jobs/job_abcd/inputs/0", // shares the prefix without the slash
		"jobs/job_xyz/inputs/0",
	}
	for _, k := range keys {
		if err := s.Put(ctx, k, []byte(k), "application/octet-stream"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, "jobs/job_xyz/inputs/0"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePrefix(ctx, "jobs/job_abc/"); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		_, err := s.Get(ctx, k)
		gone := errors.Is(err, blobstore.ErrNotFound)
		wantGone := k != "jobs/job_abcd/inputs/0"
		if gone != wantGone {
			t.Errorf("after deletes, Get(%s) error = %v; want gone = %v", k, err, wantGone)
		}
	}
	// The emptied job folder is gone too; a file store must not keep one
	// empty folder per expired job.
	if _, err := os.Stat(filepath.Join(dataDir, "objects", "jobs", "job_abc")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("job folder still on disk after DeletePrefix (stat: %v)", err)
	}
	if err := s.DeletePrefix(ctx, ""); err == nil {
		t.Error("DeletePrefix(\"\") deleted everything; want a refusal")
	}
	if _, err := s.Get(ctx, "jobs/job_abcd/inputs/0"); err != nil {
		t.Errorf("DeletePrefix(\"\") removed a blob: %v", err)
	}
}

// unreachable returns a loopback address with nothing listening on it.
func unreachable(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestS3URL(t *testing.T) {
	// Credentials from the environment only: no shared files, no instance
	// metadata lookups, and never a real account.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret-never-logged")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	endpoint := "http://" + unreachable(t)
	s := open(t, "s3://staging-results?endpoint="+endpoint+"&region=eu-west-1&use_path_style=true", "ignored")
	if got, want := s.String(), "s3://staging-results (endpoint "+endpoint+", region eu-west-1)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	err := s.Put(ctx, "jobs/job_abc/results/0", []byte("png"), "image/png")
	if err == nil {
		t.Fatal("Put to an unreachable S3 endpoint succeeded")
	}
	t.Logf("Put to an unreachable endpoint: %v", err)
	msg := err.Error()
	for _, want := range []string{"jobs/job_abc/results/0", "s3://staging-results", "connection refused"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Put error %q does not mention %q", msg, want)
		}
	}
	if strings.Contains(msg, "test-secret-never-logged") {
		t.Errorf("Put error leaks the secret key: %q", msg)
	}
}

func TestOpenRefuses(t *testing.T) {
	for _, u := range []string{
		"s3://bucket?no_such_parameter=1",
		"nosuchscheme://bucket",
	} {
		if s, err := blobstore.Open(t.Context(), u, t.TempDir()); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded, want an error", u)
		} else if !strings.Contains(err.Error(), "STORAGE_URL") {
			t.Errorf("Open(%q) error %q does not name STORAGE_URL", u, err)
		}
	}
}

// The S3 path end to end: the real client (gocloud.dev's s3blob on the AWS
// SDK) against an in-process S3-compatible server.
func TestS3RoundTrip(t *testing.T) {
	srv := s3test.New(t)
	s := open(t, srv.StorageURL(), "ignored")
	ctx := t.Context()
	photo := bytes.Repeat([]byte("room photo "), 100_000) // ~1 MB: more than one upload part's worth of small writes
	for _, k := range []string{"jobs/job_a/inputs/0", "jobs/job_a/results/0", "jobs/job_b/inputs/0"} {
		if err := s.Put(ctx, k, photo, "image/jpeg"); err != nil {
			t.Fatalf("Put %s: %v", k, err)
		}
	}
	got, err := s.Get(ctx, "jobs/job_a/results/0")
	if err != nil || !bytes.Equal(got, photo) {
		t.Fatalf("Get = %d bytes, %v; want the %d bytes put", len(got), err, len(photo))
	}
	// What the server holds is the object itself, not a transfer encoding of it.
	if held := srv.Object(t, "jobs/job_a/inputs/0"); !bytes.Equal(held, photo) {
		t.Errorf("the server holds %d bytes; want the %d put", len(held), len(photo))
	}
	if _, err := s.Get(ctx, "jobs/job_a/results/9"); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("Get of a missing key = %v; want ErrNotFound", err)
	}
	if err := s.DeletePrefix(ctx, "jobs/job_a/"); err != nil {
		t.Fatal(err)
	}
	if keys := srv.Keys(t, "jobs/"); len(keys) != 1 || keys[0] != "jobs/job_b/inputs/0" {
		t.Errorf("after deleting job_a the bucket holds %q; want only job_b's input", keys)
	}
}
