package faltest_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"frameforge/internal/provider/fal/faltest"
)

// onePixelPNG is a valid 1×1 PNG.
const onePixelPNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="

// call does one request with the fake's key and decodes a JSON answer.
func call(t *testing.T, f *faltest.Server, method, url, key string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if key != "" {
		req.Header.Set("Authorization", "Key "+key)
	}
	resp, err := f.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestQueueProtocol(t *testing.T) {
	f := faltest.New(t)
	in := map[string]any{"prompt": "p", "image_urls": []string{"data:image/png;base64," + onePixelPNG}, "sync_mode": true}
	code, sub := call(t, f, "POST", f.URL+"/fal-ai/bytedance/seedream/v4/edit", f.Key, in)
	if code != 200 || sub["status"] != "IN_QUEUE" || sub["queue_position"] != float64(1) {
		t.Fatalf("submit = %d %v", code, sub)
	}
	id := sub["request_id"].(string)
	base := f.URL + "/fal-ai/bytedance/requests/" + id
	if sub["status_url"] != base+"/status" || sub["response_url"] != base || sub["cancel_url"] != base+"/cancel" {
		t.Errorf("URLs not under owner/app: %v", sub)
	}
	if code, _ := call(t, f, "GET", f.URL+"/fal-ai/bytedance/seedream/v4/edit/requests/"+id+"/status", f.Key, nil); code != 404 {
		t.Errorf("status under the full endpoint id = %d; want 404", code)
	}
	if code, _ := call(t, f, "GET", base, f.Key, nil); code != 400 {
		t.Errorf("result before completion = %d; want 400", code)
	}
	for _, want := range []struct {
		code   int
		status string
	}{{202, "IN_QUEUE"}, {202, "IN_PROGRESS"}, {200, "COMPLETED"}} {
		code, st := call(t, f, "GET", base+"/status?logs=1", f.Key, nil)
		if code != want.code || st["status"] != want.status {
			t.Errorf("status = %d %v; want %d %s", code, st["status"], want.code, want.status)
		}
		if want.status != "IN_QUEUE" && st["logs"] == nil {
			t.Errorf("%s without logs", want.status)
		}
	}
	code, out := call(t, f, "GET", base, f.Key, nil)
	imgs, _ := out["images"].([]any)
	if code != 200 || len(imgs) != 1 || !strings.HasPrefix(imgs[0].(map[string]any)["url"].(string), "data:image/png;base64,") {
		t.Errorf("result = %d %v", code, out)
	}
	if code, st := call(t, f, "PUT", base+"/cancel", f.Key, nil); code != 400 || st["status"] != "ALREADY_COMPLETED" {
		t.Errorf("cancel completed = %d %v", code, st)
	}
	if code, st := call(t, f, "PUT", f.URL+"/fal-ai/bytedance/requests/nope/cancel", f.Key, nil); code != 404 || st["status"] != "NOT_FOUND" {
		t.Errorf("cancel unknown = %d %v", code, st)
	}
	if len(f.Submits()) != 1 || len(f.Submits()[0].Images) != 1 || len(f.StatusCalls()) != 3 || len(f.Cancels()) != 2 {
		t.Errorf("recorded %d submits, %d status calls, %d cancels", len(f.Submits()), len(f.StatusCalls()), len(f.Cancels()))
	}
}

func TestWorkflowAppID(t *testing.T) {
	f := faltest.New(t)
	_, sub := call(t, f, "POST", f.URL+"/workflows/me/flow/x", f.Key, map[string]any{"prompt": "p", "image_urls": []string{}})
	if want := f.URL + "/workflows/me/flow/requests/" + sub["request_id"].(string) + "/status"; sub["status_url"] != want {
		t.Errorf("status_url = %v; want %s", sub["status_url"], want)
	}
}

func TestCancelRunning(t *testing.T) {
	f := faltest.New(t)
	_, sub := call(t, f, "POST", f.URL+"/fal-ai/nano-banana/edit", f.Key, map[string]any{"prompt": "p"})
	if code, st := call(t, f, "PUT", sub["cancel_url"].(string), f.Key, nil); code != 202 || st["status"] != "CANCELLATION_REQUESTED" {
		t.Errorf("cancel = %d %v", code, st)
	}
}

func TestAuth(t *testing.T) {
	f := faltest.New(t)
	for _, tt := range []struct {
		key  string
		code int
		want string
	}{
		{"", 401, "Invalid Key Authorization header format"},
		{"a:b", 401, "No user found for Key ID and Secret"},
		{f.LockedKey, 403, "User is locked. Reason: Exhausted balance."},
	} {
		code, body := call(t, f, "POST", f.URL+"/fal-ai/nano-banana/edit", tt.key, map[string]any{"prompt": "p"})
		if code != tt.code || !strings.Contains(body["detail"].(string), tt.want) {
			t.Errorf("key %q: %d %v; want %d %q", tt.key, code, body, tt.code, tt.want)
		}
	}
}

func TestValidationAtResult(t *testing.T) {
	f := faltest.New(t)
	f.Configure(func(b *faltest.Behavior) { b.QueuedPolls, b.RunningPolls = 0, 0 })
	// flux-kontext takes image_url, not image_urls.
	_, sub := call(t, f, "POST", f.URL+"/fal-ai/flux-kontext/dev", f.Key,
		map[string]any{"prompt": "p", "image_urls": []string{"data:image/png;base64," + onePixelPNG}})
	if code, st := call(t, f, "GET", sub["status_url"].(string), f.Key, nil); code != 200 || st["status"] != "COMPLETED" {
		t.Fatalf("status = %d %v; want 200 COMPLETED", code, st)
	}
	code, out := call(t, f, "GET", sub["response_url"].(string), f.Key, nil)
	detail, _ := json.Marshal(out["detail"])
	if code != 422 || !strings.Contains(string(detail), `"loc":["body","image_url"]`) || !strings.Contains(string(detail), `"type":"missing"`) {
		t.Errorf("result = %d %s; want 422 missing image_url", code, detail)
	}
}

func TestRunHostAndStream(t *testing.T) {
	f := faltest.New(t)
	in := map[string]any{"prompt": "p", "image_url": "data:image/png;base64," + onePixelPNG, "output_format": "jpeg"}
	code, out := call(t, f, "POST", f.RunURL()+"/fal-ai/qwen-image-edit", f.Key, in)
	if code != 200 || out["has_nsfw_concepts"] == nil {
		t.Fatalf("run = %d %v", code, out)
	}
	if img := out["images"].([]any)[0].(map[string]any); img["content_type"] != "image/jpeg" {
		t.Errorf("output_format jpeg gave %v", img["content_type"])
	}

	_, sub := call(t, f, "POST", f.URL+"/fal-ai/qwen-image-edit", f.Key, in)
	req, _ := http.NewRequest("GET", sub["status_url"].(string)+"/stream?logs=1", nil)
	req.Header.Set("Authorization", "Key "+f.Key)
	resp, err := f.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var statuses []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			var st map[string]any
			json.Unmarshal([]byte(data), &st)
			statuses = append(statuses, st["status"].(string))
		}
	}
	if got := strings.Join(statuses, ","); got != "IN_QUEUE,IN_PROGRESS,COMPLETED" {
		t.Errorf("stream = %s", got)
	}
}

func TestStorage(t *testing.T) {
	f := faltest.New(t)
	png, _ := base64.StdEncoding.DecodeString(onePixelPNG)
	code, up := call(t, f, "POST", f.URL+"/storage/upload/initiate?storage_type=fal-cdn-v3", f.Key,
		map[string]any{"content_type": "image/png", "file_name": "a b.png"})
	if code != 200 {
		t.Fatalf("initiate = %d %v", code, up)
	}
	req, _ := http.NewRequest("PUT", up["upload_url"].(string), bytes.NewReader(png))
	req.Header.Set("Content-Type", "image/png")
	resp, err := f.Client().Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("PUT = %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = f.Client().Get(up["file_url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, png) || resp.Header.Get("Content-Type") != "image/png" {
		t.Errorf("GET file_url = %d %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(got))
	}
	// The stored file is usable as an input.
	code, sub := call(t, f, "POST", f.URL+"/fal-ai/nano-banana/edit", f.Key,
		map[string]any{"prompt": "p", "image_urls": []string{up["file_url"].(string)}})
	if code != 200 || len(f.Submits()[0].Images) != 1 || f.Submits()[0].Images[0].Source != up["file_url"] {
		t.Errorf("submit with file_url = %d %v; images %+v", code, sub, f.Submits()[0].Images)
	}
}

func TestFaultTimes(t *testing.T) {
	f := faltest.New(t)
	f.FailAt(faltest.StepSubmit, faltest.Fault{Status: 503, Header: map[string]string{"X-Fal-Error-Type": "runner_scheduling_failure"}, Body: `{"detail":"x"}`, Times: 1})
	if code, _ := call(t, f, "POST", f.URL+"/fal-ai/nano-banana/edit", f.Key, map[string]any{"prompt": "p"}); code != 503 {
		t.Errorf("first submit = %d; want 503", code)
	}
	if code, _ := call(t, f, "POST", f.URL+"/fal-ai/nano-banana/edit", f.Key, map[string]any{"prompt": "p"}); code != 200 {
		t.Errorf("second submit = %d; want 200", code)
	}
}
