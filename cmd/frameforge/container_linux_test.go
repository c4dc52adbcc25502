package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nonroot is the uid and gid of distroless's nonroot user, which the image runs as.
const nonroot = 65532

// TestStaticBinaryInEmptyRoot is the container image, as far as these
// machines can prove it without Docker: the binary built as the Dockerfile
// builds it (CGO_ENABLED=0, -ldflags version stamps) must be static, and run
// with the Dockerfile's environment in a root directory that holds nothing
// but the binary, CA certificates, /tmp, a home and the data directory, as
// uid 65532 — where it must serve /api/health, an edit (development
// fallback), a job (SQLite and stored images under /data), and answer its
// own `frameforge healthcheck`.
func TestStaticBinaryInEmptyRoot(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the static binary")
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("this test must run as root in CI: it chroots and switches to uid 65532")
		}
		t.Skip("skipped: needs root (chroot into an empty directory and run as uid 65532); ./scripts/test as root runs it")
	}
	root := t.TempDir()
	for _, d := range []string{"usr/local/bin", "etc/ssl/certs", "tmp", "home/nonroot", "data"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	must(t, os.Chmod(root, 0o755)) // t.TempDir is 0700: uid 65532 could not enter its own /
	must(t, os.Chmod(filepath.Join(root, "tmp"), 0o1777))
	for _, d := range []string{"home/nonroot", "data"} {
		must(t, os.Chown(filepath.Join(root, d), nonroot, nonroot))
	}
	must(t, os.WriteFile(filepath.Join(root, "etc/passwd"),
		[]byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"), 0o644))
	certs, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		t.Fatalf("CA certificates (Debian's ca-certificates): %v", err)
	}
	must(t, os.WriteFile(filepath.Join(root, "etc/ssl/certs/ca-certificates.crt"), certs, 0o644))

	bin := filepath.Join(root, "usr/local/bin/frameforge")
	b, err := os.ReadFile(buildBinary(t))
	must(t, err)
	must(t, os.WriteFile(bin, b, 0o755))
	assertStatic(t, bin)

	env := dockerfileEnv(t)
	if env["SERVER_HOST"] != "0.0.0.0" || env["DATA_DIR"] != "/data" || env["SERVER_PORT"] == "" {
		t.Fatalf("Dockerfile ENV = %v; want SERVER_HOST=0.0.0.0, DATA_DIR=/data and SERVER_PORT", env)
	}
	// The image listens on every interface of its own network namespace;
	// here the host's is shared, so loopback only, on a free port.
	env["SERVER_HOST"] = "127.0.0.1"
	env["SERVER_PORT"] = strconv.Itoa(freePort(t))
	env["HOME"] = "/home/nonroot"
	env["PATH"] = "/usr/local/bin"
	addr := net.JoinHostPort(env["SERVER_HOST"], env["SERVER_PORT"])
	inRoot := func(args ...string) *exec.Cmd {
		cmd := exec.Command("/usr/local/bin/frameforge", args...)
		cmd.Dir = "/"
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root, Credential: &syscall.Credential{Uid: nonroot, Gid: nonroot}}
		return cmd
	}

	if out, err := inRoot("version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "frameforge "+testVersion+" (commit "+testCommit+", built "+testDate+", ") {
		t.Errorf("frameforge version in the root = %v, %q; want the -ldflags stamps", err, out)
	}
	if err := inRoot("healthcheck", "-timeout", "1s").Run(); err == nil {
		t.Error("healthcheck succeeded before the server started")
	}

	server := inRoot()
	logs := &syncBuffer{}
	stdout, _ := server.StdoutPipe()
	server.Stderr = server.Stdout
	must(t, server.Start())
	t.Cleanup(func() { _ = server.Process.Kill(); _ = server.Wait() })
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
		}
	}()
	var health []byte
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/api/health"); err == nil {
			health, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			break
		}
	}
	if string(health) != `{"status":"ok"}` {
		t.Fatalf("/api/health = %q; want {\"status\":\"ok\"}\n%s", health, logs)
	}
	if !strings.Contains(logs.String(), `"level":"INFO"`) {
		t.Errorf("logs are not JSON (LOG_FORMAT from the Dockerfile):\n%s", logs)
	}

	// An edit, in development fallback: the photo comes back unchanged.
	body, ctype := multipartImage(t)
	resp, err := http.Post("http://"+addr+"/api/edit", ctype, body)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-FrameForge-Fallback") == "" || !bytes.Equal(got, tinyPNG) {
		t.Errorf("edit = %d %q (fallback header %q); want 200 with the photo back\n%s", resp.StatusCode, got,
			resp.Header.Get("X-FrameForge-Fallback"), logs)
	}

	// A job: the SQLite queue and the stored images live in /data, written as uid 65532.
	body, ctype = multipartImage(t)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/jobs", body)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Prefer", "wait=20")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var job struct{ Status string }
	_ = json.NewDecoder(resp.Body).Decode(&job)
	resp.Body.Close()
	if resp.StatusCode != 200 || job.Status != "succeeded" {
		t.Errorf("job = %d %q; want 200 succeeded\n%s", resp.StatusCode, job.Status, logs)
	}
	for _, name := range []string{"frameforge.db", "secret_key", "objects"} {
		fi, err := os.Stat(filepath.Join(root, "data", name))
		if err != nil {
			t.Errorf("/data/%s: %v", name, err)
			continue
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != nonroot {
			t.Errorf("/data/%s belongs to uid %d; want %d", name, st.Uid, nonroot)
		}
	}

	if out, err := inRoot("healthcheck").CombinedOutput(); err != nil {
		t.Errorf("frameforge healthcheck against the running server = %v\n%s", err, out)
	}
	must(t, server.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- server.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("server exit after SIGTERM: %v; want 0\n%s", err, logs)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("server did not stop within 20 s of SIGTERM\n%s", logs)
	}
	if err := inRoot("healthcheck", "-timeout", "1s").Run(); err == nil {
		t.Error("healthcheck succeeded after the server stopped")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// assertStatic checks the binary needs no dynamic loader and no shared
// library: distroless static has neither.
func assertStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary asks for a dynamic loader (PT_INTERP); want a static binary (CGO_ENABLED=0)")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("the binary needs shared libraries %v; want none", libs)
	}
}

// dockerfileEnv reads the runtime stage's ENV instruction from the
// Dockerfile, with ARG defaults substituted, so this test runs the binary
// with exactly the environment the image gives it.
func dockerfileEnv(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	args := map[string]string{}
	env := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			clear(env) // only the last (runtime) stage counts
		case "ARG":
			if k, v, ok := strings.Cut(f[1], "="); ok {
				args[k] = strings.Trim(v, `"`)
			}
		case "ENV":
			for _, kv := range f[1:] {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("Dockerfile ENV %q: want KEY=value pairs", line)
				}
				env[k] = regexp.MustCompile(`\$\{(\w+)\}`).ReplaceAllStringFunc(v, func(m string) string {
					return args[m[2:len(m)-1]]
				})
			}
		}
	}
	return env
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func multipartImage(t *testing.T) (io.Reader, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("image", "room.png")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(tinyPNG)
	must(t, mw.Close())
	return &body, fmt.Sprint(mw.FormDataContentType())
}
