package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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
	"sync"
	"syscall"
	"testing"
	"time"

	"frameforge/internal/provider/gemini/geminitest"
)

// TestRunServesAndStops runs the whole program in-process on port 0 with an
// empty environment: it must serve and return nil when its context ends.
func TestRunServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	var out bytes.Buffer
	done := make(chan error, 1)
	dataDir := t.TempDir()
	getenv := func(k string) string {
		return map[string]string{"SERVER_PORT": "0", "DATA_DIR": dataDir}[k]
	}
	go func() {
		done <- run(ctx, []string{"frameforge", "-env-file="}, getenv, &out, io.Discard, ready)
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
	err := run(context.Background(), []string{"frameforge", "-env-file="}, getenv, io.Discard, io.Discard, nil)
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
		if err := run(context.Background(), []string{"frameforge", "-env-file="}, getenv, io.Discard, io.Discard, nil); err == nil {
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
	get, read, err := withEnvFile(func(k string) string {
		if k == "GOOGLE_MODEL_ID" {
			return "from-env"
		}
		return ""
	}, path, true)
	if err != nil {
		t.Fatal(err)
	}
	if read != path {
		t.Errorf("read = %q; want %q", read, path)
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
	cmd, addr, logs := startBinary(t, "SHUTDOWN_TIMEOUT=10s")

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
	waitExit(t, cmd, logs, 15*time.Second)
}

// tinyPNG is a valid 1×1 PNG.
var tinyPNG = []byte("\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\x0d\x49\x44\x41\x54\x78\x9c\x63\x60\x60\x60\xf8\x0f\x00\x01\x04\x01\x00\x5f\xe5\xc3\x4b\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82")

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// The binary is built once per test run, the way the Dockerfile and the
// release workflow build it: CGO_ENABLED=0 (static) with version stamps.
const testVersion, testCommit, testDate = "v9.8.7-test", "c0ffee", "2026-01-02T03:04:05Z"

// buildBinary builds the real binary once per test run and returns its path.
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "frameforge-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "frameforge")
		build := exec.Command("go", "build", "-buildvcs=false", "-tags", "nodynamic",
			"-ldflags", "-s -w -X main.version="+testVersion+" -X main.commit="+testCommit+" -X main.date="+testDate,
			"-o", binPath, ".")
		build.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// startBinary starts the real binary (buildBinary) with env only (plus
// SERVER_PORT=0), in an empty directory. It returns the process, its address
// and its log (written as it comes).
func startBinary(t *testing.T, env ...string) (*exec.Cmd, string, *syncBuffer) {
	t.Helper()
	cmd, addrCh, logs := spawnBinary(t, env...)
	select {
	case addr := <-addrCh:
		return cmd, addr, logs
	case <-time.After(30 * time.Second):
		t.Fatalf("binary never logged its address:\n%s", logs)
	}
	return nil, "", nil
}

// spawnBinary starts the binary as startBinary does without waiting: the
// address comes on the channel once the process listens.
func spawnBinary(t *testing.T, env ...string) (*exec.Cmd, <-chan string, *syncBuffer) {
	t.Helper()
	buildBinary(t)
	cmd := exec.Command(binPath)
	cmd.Dir = t.TempDir() // no .env there
	cmd.Env = append([]string{"SERVER_PORT=0", "LOG_FORMAT=text"}, env...)
	stdout, _ := cmd.StdoutPipe()
	logs := &syncBuffer{}
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
	return cmd, addrCh, logs
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) WriteString(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.WriteString(v)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitExit(t *testing.T, cmd *exec.Cmd, logs *syncBuffer, within time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit: %v; want status 0\n%s", err, logs)
		}
	case <-time.After(within):
		t.Fatalf("process did not exit within %s", within)
	}
}

// TestBinaryDrainDelay: with DRAIN_DELAY, the process keeps serving after
// SIGTERM with /api/ready at 503 draining (what a load balancer's probe
// sees), then stops accepting connections and exits 0.
func TestBinaryDrainDelay(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	cmd, addr, logs := startBinary(t, "DRAIN_DELAY=3s")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var sawDraining bool
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) && !sawDraining; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/api/ready")
		if err != nil {
			t.Fatalf("/api/ready refused during the drain delay: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		sawDraining = resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(string(body), `"status":"draining"`)
	}
	if !sawDraining {
		t.Fatal("/api/ready never answered 503 draining after SIGTERM")
	}
	if resp, err := http.Get("http://" + addr + "/api/health"); err != nil || resp.StatusCode != 200 {
		t.Errorf("health during the drain delay = %v, %v; want still served", resp, err)
	}
	waitExit(t, cmd, logs, 20*time.Second)
}

// TestBinaryDrainTimeoutAnswers: an edit still running when
// SHUTDOWN_TIMEOUT ends is cancelled, and its client gets a JSON 503
// interrupted, not an empty 200.
func TestBinaryDrainTimeoutAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	fake := geminitest.NewServer(t)
	fake.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: 30 * time.Second})
	cmd, addr, logs := startBinary(t, "SHUTDOWN_TIMEOUT=500ms", "GOOGLE_API_KEY="+fake.Key, "GEMINI_BASE_URL="+fake.URL)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("image", "room.png")
	fw.Write(tinyPNG)
	mw.Close()
	got := make(chan *http.Response, 1)
	go func() {
		resp, err := http.Post("http://"+addr+"/api/edit", mw.FormDataContentType(), &body)
		if err != nil {
			t.Errorf("in-flight edit lost: %v", err)
			close(got)
			return
		}
		got <- resp
	}()
	if !fake.WaitFor(10*time.Second, func(rs []geminitest.Request) bool { return len(rs) == 1 }) {
		t.Fatalf("the edit never reached the fake:\n%s", logs)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case resp, ok := <-got:
		if !ok {
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), `"code":"interrupted"`) ||
			resp.Header.Get("Retry-After") == "" {
			t.Errorf("edit cut by the drain = %d %q; want 503 interrupted with Retry-After", resp.StatusCode, b)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no answer after the drain timed out")
	}
	if !fake.WaitFor(5*time.Second, func(rs []geminitest.Request) bool { return rs[0].Cancelled }) {
		t.Error("the upstream call was not cancelled")
	}
	waitExit(t, cmd, logs, 20*time.Second)
}

// TestBinaryJobsSurviveSIGKILL submits jobs to the real binary, kills it
// with SIGKILL while one job runs and the others wait, starts it again on
// the same DATA_DIR, and checks every accepted job ends succeeded.
func TestBinaryJobsSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	fake := geminitest.NewServer(t)
	fake.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: 2 * time.Second})
	dataDir := t.TempDir()
	env := []string{"DATA_DIR=" + dataDir, "JOB_WORKERS=1", "GOOGLE_API_KEY=" + fake.Key, "GEMINI_BASE_URL=" + fake.URL}
	cmd, addr, logs := startBinary(t, env...)

	var ids []string
	for range 3 {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("image", "room.png")
		fw.Write(tinyPNG)
		mw.Close()
		resp, err := http.Post("http://"+addr+"/api/jobs", mw.FormDataContentType(), &body)
		if err != nil {
			t.Fatal(err)
		}
		var job struct{ ID, Status string }
		_ = json.NewDecoder(resp.Body).Decode(&job)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted || job.ID == "" {
			t.Fatalf("submit = %d %+v", resp.StatusCode, job)
		}
		ids = append(ids, job.ID)
	}
	if !fake.WaitFor(20*time.Second, func(rs []geminitest.Request) bool { return len(rs) >= 1 }) {
		t.Fatalf("no job reached the provider:\n%s", logs)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	_, addr, logs = startBinary(t, env...)
	for _, id := range ids {
		var job struct {
			Status   string
			Attempts int
			Results  []struct{ URL string }
		}
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			resp, err := http.Get("http://" + addr + "/api/jobs/" + id)
			if err != nil {
				t.Fatal(err)
			}
			_ = json.NewDecoder(resp.Body).Decode(&job)
			resp.Body.Close()
			if job.Status == "succeeded" || job.Status == "failed" || job.Status == "cancelled" {
				break
			}
		}
		if job.Status != "succeeded" || len(job.Results) != 1 {
			t.Errorf("job %s after the restart = %s with %d results; want succeeded\n%s", id, job.Status, len(job.Results), logs)
		}
	}
}

// frameforge webhook-secret prints the secret deliveries are signed with:
// the one generated into DATA_DIR (the same at every call, as the server
// will use it), or WEBHOOK_SECRET.
func TestWebhookSecretCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"DATA_DIR": dir}
	print := func() string {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"frameforge", "-env-file=", "webhook-secret"},
			func(k string) string { return env[k] }, &out, io.Discard, nil); err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out.String())
	}
	first := print()
	if !strings.HasPrefix(first, "whsec_") || print() != first {
		t.Errorf("webhook-secret printed %q, then something else; want the same whsec_… twice", first)
	}
	if fi, err := os.Stat(filepath.Join(dir, "webhook_secret")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("DATA_DIR/webhook_secret: %v, %v; want mode 0600", fi, err)
	}
	env["WEBHOOK_SECRET"] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	if got := print(); got != env["WEBHOOK_SECRET"] {
		t.Errorf("with WEBHOOK_SECRET set, printed %q; want it", got)
	}
}
