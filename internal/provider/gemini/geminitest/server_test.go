package geminitest_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/genai"

	"frameforge/internal/provider/gemini/geminitest"
)

func sdkClient(t *testing.T, s *geminitest.Server, key string) *genai.Client {
	t.Helper()
	t.Setenv("GEMINI_API_KEY", "")
	t.Setenv("GOOGLE_API_KEY", "")
	c, err := genai.NewClient(t.Context(), &genai.ClientConfig{APIKey: key, Backend: genai.BackendGeminiAPI,
		HTTPClient: s.Client(), HTTPOptions: genai.HTTPOptions{BaseURL: s.URL, APIVersion: "v1beta"}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestStreamSnakeCase posts a curl-style snake_case body with URL-safe,
// unpadded base64 and ?key= auth to the SSE endpoint, and checks the framing
// byte for byte: only `data: <json>` events separated by blank lines, every
// event a camelCase GenerateContentResponse.
func TestStreamSnakeCase(t *testing.T) {
	s := geminitest.NewServer(t)
	img := geminitest.PNG(16, 16, 1)
	body := `{"contents":[{"role":"user","parts":[
		{"inline_data":{"mime_type":"image/png","data":"` + base64.RawURLEncoding.EncodeToString(img) + `"}},
		{"text":"stage it"}]}],
		"generation_config":{"response_modalities":["Text","Image"],"image_config":{"aspect_ratio":"16:9"}}}`
	resp, err := s.Client().Post(s.URL+"v1beta/models/gemini-3.1-flash-image:streamGenerateContent?alt=sse&key="+s.Key,
		"application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	if !bytes.HasSuffix(raw, []byte("\n\n")) {
		t.Error("stream does not end with a blank line")
	}
	events := strings.Split(strings.TrimSuffix(string(raw), "\n\n"), "\n\n")
	if len(events) != 2 {
		t.Fatalf("got %d events; want text then image:\n%s", len(events), raw)
	}
	for i, ev := range events {
		data, ok := strings.CutPrefix(ev, "data: ")
		if !ok || strings.Contains(data, "\n") {
			t.Fatalf("event %d is not one data line: %q", i, ev)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(data), &m); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		for _, k := range []string{"candidates", "usageMetadata", "modelVersion", "responseId"} {
			if _, ok := m[k]; !ok {
				t.Errorf("event %d lacks %s", i, k)
			}
		}
		for _, snake := range []string{"inline_data", "mime_type", "finish_reason", "usage_metadata", "model_version"} {
			if strings.Contains(data, snake) {
				t.Errorf("event %d uses snake_case %s", i, snake)
			}
		}
	}
	if !strings.Contains(events[1], `"inlineData":{"mimeType":"image/png"`) || !strings.Contains(events[1], `"finishReason":"STOP"`) {
		t.Errorf("last event lacks the camelCase image or the finishReason: %.200s", events[1])
	}

	r := s.Requests()[0]
	ps := r.Parts()
	if !r.Streamed || !r.KeyFromQuery || len(ps) != 2 || ps[0].MIMEType != "image/png" || !bytes.Equal(ps[0].Data, img) || ps[1].Text != "stage it" {
		t.Errorf("recorded %+v", r)
	}
	if w, h := decodePNGSize(t, r.ImageSent); w != 64 || h != 36 {
		t.Errorf("answered %dx%d; want 64x36 for aspect 16:9", w, h)
	}
}

func decodePNGSize(t *testing.T, b []byte) (int, int) {
	t.Helper()
	if len(b) < 24 || string(b[1:4]) != "PNG" {
		t.Fatalf("not a PNG")
	}
	be := func(p []byte) int { return int(p[0])<<24 | int(p[1])<<16 | int(p[2])<<8 | int(p[3]) }
	return be(b[16:20]), be(b[20:24])
}

// TestStreamSDK runs the official SDK's GenerateContentStream against the
// fake: a normal stream, a mid-stream error event, and a cut stream.
func TestStreamSDK(t *testing.T) {
	s := geminitest.NewServer(t)
	c := sdkClient(t, s, s.Key)
	contents := []*genai.Content{genai.NewContentFromParts([]*genai.Part{
		genai.NewPartFromBytes(geminitest.PNG(8, 8, 3), "image/png"), genai.NewPartFromText("stage it")}, genai.RoleUser)}
	cfg := &genai.GenerateContentConfig{ResponseModalities: []string{"TEXT", "IMAGE"}, AutomaticContinuation: genai.Ptr(false)}
	collect := func() (chunks []*genai.GenerateContentResponse, err error) {
		for chunk, e := range c.Models.GenerateContentStream(t.Context(), "gemini-3.1-flash-image", contents, cfg) {
			if e != nil {
				return chunks, e
			}
			chunks = append(chunks, chunk)
		}
		return chunks, nil
	}

	chunks, err := collect()
	if err != nil || len(chunks) != 2 {
		t.Fatalf("got %d chunks, err %v; want 2, nil", len(chunks), err)
	}
	last := chunks[1].Candidates[0]
	if last.FinishReason != genai.FinishReasonStop || !bytes.Equal(last.Content.Parts[0].InlineData.Data, s.Requests()[0].ImageSent) {
		t.Errorf("last chunk: finish %q; want STOP with the image", last.FinishReason)
	}
	if chunks[0].Candidates[0].Content.Parts[0].Text == "" {
		t.Error("first chunk has no text")
	}

	s.Script(geminitest.Scenario{Kind: geminitest.MidStreamError})
	chunks, err = collect()
	var apiErr genai.APIError
	if len(chunks) != 1 || !errors.As(err, &apiErr) || apiErr.Code != 500 || apiErr.Status != "INTERNAL" {
		t.Errorf("mid-stream error: %d chunks, err %v; want 1 chunk then APIError 500", len(chunks), err)
	}

	s.Script(geminitest.Scenario{Kind: geminitest.Cut})
	chunks, err = collect()
	if len(chunks) != 1 || err == nil {
		t.Errorf("cut stream: %d chunks, err %v; want 1 chunk then an error", len(chunks), err)
	}

	s.Script(geminitest.Scenario{Kind: geminitest.Thoughts})
	chunks, err = collect()
	if err != nil || len(chunks) != 3 || !chunks[0].Candidates[0].Content.Parts[0].Thought ||
		len(chunks[2].Candidates[0].Content.Parts[0].ThoughtSignature) == 0 {
		t.Errorf("thought stream: %d chunks, err %v; want thought text, thought draft, signed final image", len(chunks), err)
	}
}

// TestRejections checks the fake's own validation answers against the
// documented bodies.
func TestRejections(t *testing.T) {
	s := geminitest.NewServer(t)
	post := func(path, key, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(body))
		if key != "" {
			req.Header.Set("x-goog-api-key", key)
		}
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m struct{ Error map[string]any }
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatalf("%s: error body is not JSON: %v", path, err)
		}
		return resp.StatusCode, m.Error
	}
	good := `{"contents":[{"parts":[{"text":"hi"}]}]}`
	path := "v1beta/models/gemini-3.1-flash-image:generateContent"

	code, e := post(path, "wrong", good)
	details, _ := e["details"].([]any)
	if code != 400 || e["status"] != "INVALID_ARGUMENT" || len(details) != 2 ||
		details[0].(map[string]any)["reason"] != "API_KEY_INVALID" {
		t.Errorf("wrong key: %d %v", code, e)
	}
	if code, e = post(path, "", good); code != 403 || e["status"] != "PERMISSION_DENIED" {
		t.Errorf("no key: %d %v", code, e)
	}
	if code, e = post("v1beta/models/gemini-2.5-flash-image-preview:generateContent", s.Key, good); code != 404 || e["status"] != "NOT_FOUND" {
		t.Errorf("retired model: %d %v", code, e)
	}
	gif := `{"contents":[{"parts":[{"inlineData":{"mimeType":"image/gif","data":"R0lGODlh"}}]}]}`
	if code, e = post(path, s.Key, gif); code != 400 || !strings.Contains(e["message"].(string), "Unsupported MIME type") {
		t.Errorf("gif: %d %v", code, e)
	}
	if code, _ = post(path, s.Key, `{"contents":[]}`); code != 400 {
		t.Errorf("no contents: %d", code)
	}
	if n := len(s.Requests()); n != 5 {
		t.Errorf("recorded %d requests; want 5", n)
	}
}

// TestPromptScenario checks that a prompt keyword picks its scenario instead
// of the default, and that scripted scenarios still come first.
func TestPromptScenario(t *testing.T) {
	s := geminitest.NewServer(t, geminitest.WithPromptScenario("slow-please", geminitest.Scenario{Kind: geminitest.TextOnly}))
	c := sdkClient(t, s, s.Key)
	send := func(prompt string) {
		t.Helper()
		contents := []*genai.Content{genai.NewContentFromParts([]*genai.Part{
			genai.NewPartFromBytes(geminitest.PNG(8, 8, 3), "image/png"), genai.NewPartFromText(prompt)}, genai.RoleUser)}
		if _, err := c.Models.GenerateContent(t.Context(), "gemini-3.1-flash-image", contents, nil); err != nil {
			t.Fatalf("GenerateContent(%q): %v", prompt, err)
		}
	}
	send("stage it")
	send("stage it, slow-please")
	s.Script(geminitest.Scenario{Kind: geminitest.ImageOnly})
	send("stage it, slow-please")

	want := []geminitest.Kind{geminitest.ImageAndText, geminitest.TextOnly, geminitest.ImageOnly}
	reqs := s.Requests()
	if len(reqs) != len(want) {
		t.Fatalf("got %d requests; want %d", len(reqs), len(want))
	}
	for i, r := range reqs {
		if r.Scenario != want[i] {
			t.Errorf("request %d: scenario %v; want %v", i, r.Scenario, want[i])
		}
	}
}
