// Package blobstore keeps job inputs and results: files under the data
// directory by default, or any S3-compatible store when STORAGE_URL says so,
// through one interface (gocloud.dev/blob) so the jobs code never knows which.
//
// Keys are slash-separated paths such as "jobs/job_abc/inputs/0".
package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/s3blob" // s3:// URLs
	"gocloud.dev/gcerrors"
)

// ErrNotFound is matched (errors.Is) by Get and Reader for a missing key.
var ErrNotFound = errors.New("blobstore: not found")

// Store is a bucket of blobs. It is safe for concurrent use.
type Store struct {
	bucket *blob.Bucket
	// dir is the local directory behind a file store ("" for others). Its
	// emptied sub-directories are removed by DeletePrefix, which object
	// stores do not need.
	dir  string
	desc string
}

// Open opens the store that storageURL (STORAGE_URL) names:
//
//   - "": files under dataDir/objects, created with mode 0700;
//   - file:///abs/path: files under that directory (created when missing);
//   - s3://bucket?endpoint=…&region=…&use_path_style=true: an S3-compatible
//     store, with credentials from the usual AWS sources (AWS_ACCESS_KEY_ID
//     and AWS_SECRET_ACCESS_KEY, or a profile, or the instance's role);
//   - any other URL that gocloud.dev's registered openers accept.
//
// Local files are written to a temporary file beside their final name and
// renamed into place, so a reader never sees half a file. Keeping the
// temporary file in the same directory (not in TMPDIR) makes the rename work
// when the data directory is a mounted volume.
func Open(ctx context.Context, storageURL, dataDir string) (*Store, error) {
	if storageURL == "" {
		dir, err := filepath.Abs(filepath.Join(dataDir, "objects"))
		if err != nil {
			return nil, fmt.Errorf("blobstore: %w", err)
		}
		return openFiles(ctx, &url.URL{Scheme: "file", Path: filepath.ToSlash(dir)})
	}
	u, err := url.Parse(storageURL)
	if err != nil {
		// url.Parse's error repeats the URL, which may hold a secret.
		return nil, errors.New("STORAGE_URL: not a URL")
	}
	if u.Scheme == "file" {
		return openFiles(ctx, u)
	}
	b, err := blob.OpenBucket(ctx, storageURL)
	if err != nil {
		return nil, fmt.Errorf("STORAGE_URL: open %s: %w", describe(u), err)
	}
	return &Store{bucket: b, desc: describe(u)}, nil
}

func openFiles(ctx context.Context, u *url.URL) (*Store, error) {
	opener := &fileblob.URLOpener{Options: fileblob.Options{
		CreateDir:   true,
		DirFileMode: 0o700,
		NoTempDir:   true,
	}}
	b, err := opener.OpenBucketURL(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("blobstore: open %s: %w", describe(u), err)
	}
	return &Store{bucket: b, dir: filepath.FromSlash(u.Path), desc: describe(u)}, nil
}

// describe names a store for the start-up log: the scheme, the bucket or
// path, and where an S3 store lives; never user info or other parameters,
// which could carry credentials.
func describe(u *url.URL) string {
	d := u.Scheme + "://" + u.Host + u.Path
	q := u.Query()
	var where []string
	if e := q.Get("endpoint"); e != "" {
		if eu, err := url.Parse(e); err == nil && eu.Host != "" {
			e = eu.Scheme + "://" + eu.Host
		} else {
			e = "(endpoint)"
		}
		where = append(where, "endpoint "+e)
	}
	if r := q.Get("region"); r != "" {
		where = append(where, "region "+r)
	}
	if len(where) > 0 {
		d += " (" + strings.Join(where, ", ") + ")"
	}
	return d
}

// String describes the store for the start-up log, without credentials.
func (s *Store) String() string { return s.desc }

// Put stores data under key, replacing what was there.
func (s *Store) Put(ctx context.Context, key string, data []byte, contentType string) error {
	err := s.bucket.WriteAll(ctx, key, data, &blob.WriterOptions{ContentType: contentType})
	if err != nil {
		return fmt.Errorf("blobstore: put %s in %s: %w", key, s.desc, err)
	}
	return nil
}

// Get returns the blob under key, or an error matching ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	data, err := s.bucket.ReadAll(ctx, key)
	if err != nil {
		return nil, s.readError(key, err)
	}
	return data, nil
}

// Reader opens the blob under key for streaming and returns its size and
// content type; the caller closes it. A missing key is an error matching
// ErrNotFound.
func (s *Store) Reader(ctx context.Context, key string) (io.ReadCloser, int64, string, error) {
	r, err := s.bucket.NewReader(ctx, key, nil)
	if err != nil {
		return nil, 0, "", s.readError(key, err)
	}
	return r, r.Size(), r.ContentType(), nil
}

func (s *Store) readError(key string, err error) error {
	if gcerrors.Code(err) == gcerrors.NotFound {
		return fmt.Errorf("get %s: %w", key, ErrNotFound)
	}
	return fmt.Errorf("blobstore: get %s from %s: %w", key, s.desc, err)
}

// Delete removes the blob under key; a missing key is not an error, so that
// a cleanup interrupted half-way can simply run again.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.bucket.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("blobstore: delete %s from %s: %w", key, s.desc, err)
	}
	return nil
}

// DeletePrefix removes every blob whose key starts with prefix (give a
// trailing slash, "jobs/job_abc/", to mean one job's folder and no other's).
func (s *Store) DeletePrefix(ctx context.Context, prefix string) error {
	if prefix == "" {
		// An empty prefix is every blob: too easy to pass by mistake.
		return errors.New("blobstore: delete with an empty prefix")
	}
	it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("blobstore: list %s in %s: %w", prefix, s.desc, err)
		}
		if obj.IsDir {
			continue
		}
		if err := s.Delete(ctx, obj.Key); err != nil {
			return err
		}
	}
	if s.dir != "" {
		s.removeEmptyDirs(prefix)
	}
	return nil
}

// removeEmptyDirs removes the directories that deleting prefix emptied, so a
// file store does not collect one empty folder per expired job. Only the
// folder the prefix names and those below it are removed, never a parent:
// a parent such as "jobs" may be in use by a concurrent Put.
func (s *Store) removeEmptyDirs(prefix string) {
	top := filepath.Join(s.dir, filepath.FromSlash(path.Clean("/"+prefix)))
	if top == s.dir {
		return
	}
	var dirs []string
	filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	// Deepest first; os.Remove leaves any directory that is not empty.
	slices.Reverse(dirs)
	for _, d := range dirs {
		os.Remove(d)
	}
}

// Close releases the store's resources.
func (s *Store) Close() error { return s.bucket.Close() }
