package main

import (
	"bytes"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinaryTokensRevokedWhileRunning: the tokens command works on the
// running server's database; a token it creates is accepted at once, and
// once revoked is refused on the next request, without a restart. The token
// is nowhere on disk, in the logs or in the metrics.
func TestBinaryTokensRevokedWhileRunning(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dataDir := t.TempDir()
	env := []string{"DATA_DIR=" + dataDir, "AUTH=required"}
	_, addr, logs := startBinary(t, env...)
	cli := func(args ...string) (string, error) {
		cmd := exec.Command(binPath, append([]string{"tokens"}, args...)...)
		cmd.Dir = t.TempDir()
		cmd.Env = env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), err
	}
	out, err := cli("create", "--name", "listing-app", "--quota", "5", "--rate", "50/h")
	if err != nil {
		t.Fatalf("tokens create: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ff_") || !strings.HasPrefix(lines[1], "id: tok_") {
		t.Fatalf("tokens create printed %q; want the token on a line, then id: tok_…", out)
	}
	secret, id := lines[0], strings.TrimPrefix(lines[1], "id: ")

	edit := func() *http.Response {
		resp, err := editWithToken(addr, secret)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := edit()
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("edit with a new token = %d; want 200", resp.StatusCode)
	}
	list, err := cli("list")
	if err != nil || !strings.Contains(list, id) || !strings.Contains(list, "listing-app") || strings.Contains(list, secret) {
		t.Errorf("tokens list = %q, %v; want the token's id and name, never its secret", list, err)
	}
	if _, err := cli("revoke", id); err != nil {
		t.Fatalf("tokens revoke: %v", err)
	}
	resp = edit()
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(b), "revoked") {
		t.Errorf("edit after revoke = %d %s; want 401 saying revoked", resp.StatusCode, b)
	}
	if _, err := cli("revoke", "tok_doesnotexist"); err == nil {
		t.Error("revoking an unknown id exited 0; want non-zero")
	}

	mresp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	if bytes.Contains(metrics, []byte(secret)) || strings.Contains(logs.String(), secret) {
		t.Error("the token appears in the metrics or the server's log")
	}
	found := false
	_ = filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err == nil && bytes.Contains(data, []byte(secret)) {
			t.Errorf("the token is stored in clear in %s", path)
		}
		found = found || strings.HasPrefix(d.Name(), "frameforge.db")
		return nil
	})
	if !found {
		t.Errorf("no database file under DATA_DIR: the scan saw nothing")
	}
}

// editWithToken posts a one-photo edit to the server at addr with the API
// token secret.
func editWithToken(addr, secret string) (*http.Response, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("image", "room.png")
	fw.Write(tinyPNG)
	mw.Close()
	req, err := http.NewRequest("POST", "http://"+addr+"/api/edit", &body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+secret)
	return http.DefaultClient.Do(req)
}
