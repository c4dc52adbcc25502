package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// runArgs runs the program with args and env, and returns its error and
// what it wrote to stdout and stderr.
func runArgs(t *testing.T, env map[string]string, args ...string) (err error, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), append([]string{"frameforge"}, args...), func(k string) string { return env[k] }, &out, &errOut, nil)
	return err, out.String(), errOut.String()
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"-version"}, {"-env-file=", "version"}} {
		err, out, _ := runArgs(t, nil, args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if !strings.HasPrefix(out, "frameforge ") || !strings.Contains(out, runtime.Version()) ||
			!strings.Contains(out, "commit ") || strings.Count(out, "\n") != 1 {
			t.Errorf("%v printed %q; want one line with the version, commit and Go version", args, out)
		}
	}
	// A broken configuration does not stop version from answering.
	if err, _, _ := runArgs(t, map[string]string{"SERVER_PORT": "http"}, "version"); err != nil {
		t.Errorf("version with a bad SERVER_PORT: %v", err)
	}
}

// The values release builds set with -ldflags win over the build info.
func TestVersionFromLdflags(t *testing.T) {
	defer func(v, c, d string) { version, commit, date = v, c, d }(version, commit, date)
	version, commit, date = "v1.2.3", "0123456789abcdef", "2026-05-01T12:00:00Z"
	got := readVersion().String()
	for _, want := range []string{"frameforge v1.2.3 ", "commit 0123456789abcdef", "built 2026-05-01T12:00:00Z"} {
		if !strings.Contains(got, want) {
			t.Errorf("version = %q; want it to contain %q", got, want)
		}
	}
}

// Unknown commands and stray arguments are refused with the usage (exit 2
// in main), and nothing starts.
func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"serve"},
		{"versoin"},
		{"version", "extra"},
		{"-version", "extra"},
		{"webhook-secret", "now"},
		{"healthcheck", "localhost"},
		{"healthcheck", "-port", "80"},
		{"-no-such-flag"},
	} {
		err, out, errOut := runArgs(t, nil, args...)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: err = %v; want a usage error", args, err)
			continue
		}
		if out != "" || !strings.HasPrefix(errOut, "frameforge: ") || !strings.Contains(errOut, "Usage: frameforge") {
			t.Errorf("%v: stdout %q, stderr %q; want the error and the usage on stderr", args, out, errOut)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, flag := range []string{"-h", "-help", "--help"} {
		err, out, _ := runArgs(t, nil, flag)
		if err != nil {
			t.Fatalf("%s: %v; want success", flag, err)
		}
		for _, want := range []string{"Usage: frameforge", "healthcheck", "version", "webhook-secret", "docs/deploy.md", "-env-file"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: usage lacks %q:\n%s", flag, want, out)
			}
		}
	}
	if err, out, _ := runArgs(t, nil, "healthcheck", "-h"); err != nil || !strings.Contains(out, "-timeout") {
		t.Errorf("healthcheck -h = %v, %q; want success and its flags", err, out)
	}
}

// A missing default .env is fine; a file named with -env-file must exist.
func TestEnvFileNamedMustExist(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "prod.env")
	err, _, _ := runArgs(t, nil, "-env-file", missing, "webhook-secret")
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("-env-file %s (missing) = %v; want an error naming it", missing, err)
	}
	_, read, err := withEnvFile(os.Getenv, filepath.Join(t.TempDir(), ".env"), false)
	if err != nil || !strings.HasPrefix(read, "none") {
		t.Errorf("missing default .env: read %q, err %v; want none and no error", read, err)
	}
}

func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/ready" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		io.WriteString(w, `{"status":"draining"}`)
	}))
	defer srv.Close()
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	env := map[string]string{"SERVER_HOST": host, "SERVER_PORT": port}
	if err, out, _ := runArgs(t, env, "-env-file=", "healthcheck"); err != nil || !strings.Contains(out, "200") {
		t.Errorf("healthcheck against a ready server = %v, %q; want success", err, out)
	}
	// A wildcard listen address is asked on loopback.
	env["SERVER_HOST"] = "0.0.0.0"
	if err, _, _ := runArgs(t, env, "-env-file=", "healthcheck"); err != nil {
		t.Errorf("healthcheck with SERVER_HOST=0.0.0.0 = %v; want success over loopback", err)
	}
	status = http.StatusServiceUnavailable
	if err, _, _ := runArgs(t, env, "-env-file=", "healthcheck"); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("healthcheck against a draining server = %v; want an error naming 503", err)
	}
	srv.Close()
	start := time.Now()
	if err, _, _ := runArgs(t, env, "-env-file=", "healthcheck", "-timeout", "2s"); err == nil {
		t.Error("healthcheck with no server = nil; want an error")
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("healthcheck took %s; want it bounded by -timeout", time.Since(start))
	}
	env["SERVER_PORT"] = "0"
	if err, _, _ := runArgs(t, env, "-env-file=", "healthcheck"); err == nil || !strings.Contains(err.Error(), "SERVER_PORT") {
		t.Errorf("healthcheck with SERVER_PORT=0 = %v; want an error naming SERVER_PORT", err)
	}
}

// The healthcheck against the real server, in process: ready while it runs.
func TestHealthcheckAgainstServer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	var out bytes.Buffer
	done := make(chan error, 1)
	dataDir := t.TempDir()
	envFile := filepath.Join(t.TempDir(), "test.env")
	if err := os.WriteFile(envFile, []byte("LOG_LEVEL=info\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		done <- run(ctx, []string{"frameforge", "-env-file", envFile}, func(k string) string {
			return map[string]string{"SERVER_PORT": "0", "DATA_DIR": dataDir, "GOOGLE_API_KEY": "k"}[k]
		}, &out, io.Discard, ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run returned early: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("server not ready in 20s")
	}
	host, port, _ := net.SplitHostPort(addr)
	if err, _, _ := runArgs(t, map[string]string{"SERVER_HOST": host, "SERVER_PORT": port}, "-env-file=", "healthcheck"); err != nil {
		t.Errorf("healthcheck against the running server: %v", err)
	}
	cancel()
	<-done
	logs := out.String()
	// Start-up names the env file it read, and which providers lack a key, by name.
	if !strings.Contains(logs, "env_file="+envFile) {
		t.Errorf("start-up log does not name the env file %s:\n%s", envFile, logs)
	}
	if !strings.Contains(logs, "Google") || !strings.Contains(logs, "server key from GOOGLE_API_KEY") {
		t.Errorf("start-up log does not say the Google key came from GOOGLE_API_KEY:\n%s", logs)
	}
	if !strings.Contains(logs, "fal.ai has no server key (none of FAL_KEY is set)") {
		t.Errorf("start-up log's fallback warning does not name fal:\n%s", logs)
	}
}
