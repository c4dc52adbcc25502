package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunServesAndStops runs the whole program in-process on port 0 with an
// empty environment: it must serve and return nil when its context ends.
func TestRunServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	var out bytes.Buffer
	done := make(chan error, 1)
	getenv := func(k string) string {
		if k == "SERVER_PORT" {
			return "0"
		}
		return ""
	}
	go func() {
		done <- run(ctx, []string{"frameforge", "-env-file", filepath.Join(t.TempDir(), "none")}, getenv, &out, io.Discard, ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run returned early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server not ready in 10s")
	}
	resp, err := http.Get("http://" + addr + "/api/health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != `{"status":"ok"}` {
		t.Errorf("health = %q", body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run() = %v; want nil after shutdown", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestRunRefusesBadConfigWithOneLine(t *testing.T) {
	getenv := func(k string) string {
		return map[string]string{"SERVER_PORT": "http", "ALLOWED_ORIGINS": "[bad"}[k]
	}
	err := run(context.Background(), []string{"frameforge", "-env-file", "/nonexistent"}, getenv, io.Discard, io.Discard, nil)
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "SERVER_PORT") || !strings.Contains(err.Error(), "ALLOWED_ORIGINS") {
		t.Fatalf("run() = %v; want one line naming SERVER_PORT and ALLOWED_ORIGINS", err)
	}
}

// Without GOGC, run sets the collector's target to gcPercent (the heap is
// mostly unscanned image bytes); an operator's GOGC is left to the runtime.
func TestRunTunesGCUnlessGOGCIsSet(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, c := range []struct {
		gogc string
		want int
	}{{"", gcPercent}, {"200", 100}} {
		debug.SetGCPercent(100)
		getenv := func(k string) string {
			// A bad port makes run return right after start-up's first steps.
			return map[string]string{"GOGC": c.gogc, "SERVER_PORT": "http"}[k]
		}
		if err := run(context.Background(), []string{"frameforge", "-env-file", "/nonexistent"}, getenv, io.Discard, io.Discard, nil); err == nil {
			t.Fatal("run accepted SERVER_PORT=http")
		}
		if got := debug.SetGCPercent(100); got != c.want {
			t.Errorf("GOGC=%q: GC percent %d; want %d", c.gogc, got, c.want)
		}
	}
}

func TestEnvFileIsReadAndEnvironmentWins(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	if err := os.WriteFile(path, []byte("SERVER_PORT=0\nLOG_LEVEL=warn\nGOOGLE_MODEL_ID=from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	get, err := withEnvFile(func(k string) string {
		if k == "GOOGLE_MODEL_ID" {
			return "from-env"
		}
		return ""
	}, path)
	if err != nil {
		t.Fatal(err)
	}
	if get("LOG_LEVEL") != "warn" || get("GOOGLE_MODEL_ID") != "from-env" {
		t.Errorf("LOG_LEVEL=%q GOOGLE_MODEL_ID=%q; want warn from the file and from-env from the environment", get("LOG_LEVEL"), get("GOOGLE_MODEL_ID"))
	}
}

// TestBinaryDrainsOnSIGTERM builds the real binary, starts it with an empty
// environment, begins an upload, sends SIGTERM mid-upload, and checks that
// the in-flight request still completes, new connections are refused, and
// the process exits 0.
func TestBinaryDrainsOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "frameforge")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.Dir = t.TempDir() // no .env there
	cmd.Env = []string{"SERVER_PORT=0", "LOG_FORMAT=text", "SHUTDOWN_TIMEOUT=10s"}
	stdout, _ := cmd.StdoutPipe()
	var logs bytes.Buffer
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	addrCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			logs.WriteString(line + "\n")
			if i := strings.Index(line, "addr=http://"); i >= 0 {
				addrCh <- strings.Fields(line[i+len("addr=http://"):])[0]
			}
		}
	}()
	var addr string
	select {
	case addr = <-addrCh:
	case <-time.After(20 * time.Second):
		t.Fatalf("binary never logged its address")
	}

	// An upload whose body we send in two halves, with SIGTERM in between.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("image", "room.png")
	fw.Write(tinyPNG)
	mw.Close()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	b := body.Bytes()
	fmt.Fprintf(conn, "POST /api/edit HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", addr, mw.FormDataContentType(), len(b))
	conn.Write(b[:len(b)/2])
	time.Sleep(200 * time.Millisecond) // let the server start reading the request
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The listener closes soon after the signal (poll: a loaded machine may be slow).
	refused := false
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			refused = true
			break
		}
		c.Close()
	}
	if !refused {
		t.Error("new connections still accepted 5 s after SIGTERM")
	}
	conn.Write(b[len(b)/2:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request lost: %v", err)
	}
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Equal(got, tinyPNG) {
		t.Errorf("in-flight request = %d (%d bytes); want 200 with the fallback image", resp.StatusCode, len(got))
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Errorf("exit: %v; want status 0\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("process did not exit after drain")
	}
}

// tinyPNG is a valid 1×1 PNG.
var tinyPNG = []byte("\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\x0d\x49\x44\x41\x54\x78\x9c\x63\x60\x60\x60\xf8\x0f\x00\x01\x04\x01\x00\x5f\xe5\xc3\x4b\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82")
