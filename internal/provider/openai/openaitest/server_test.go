package openaitest

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"testing"
)

type part struct {
	name, file, ctype string
	data              []byte
}

func post(t *testing.T, s *Server, key string, parts []part) (int, map[string]any) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, p := range parts {
		if p.file == "" {
			_ = mw.WriteField(p.name, string(p.data))
			continue
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="`+p.name+`"; filename="`+p.file+`"`)
		h.Set("Content-Type", p.ctype)
		w, _ := mw.CreatePart(h)
		_, _ = w.Write(p.data)
	}
	_ = mw.Close()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.BaseURL()+"images/edits", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func errCode(out map[string]any) any {
	e, _ := out["error"].(map[string]any)
	return e["code"]
}

func TestServerValidates(t *testing.T) {
	png := PNG(4, 4)
	good := []part{{name: "prompt", data: []byte("p")}, {name: "model", data: []byte("gpt-image-2")},
		{name: "image", file: "a.png", ctype: "image/png", data: png}}
	tests := []struct {
		name       string
		key        bool
		parts      []part
		wantStatus int
		wantCode   any
	}{
		{"success", true, good, 200, nil},
		{"wrong key", false, good, 401, "invalid_api_key"},
		{"octet-stream", true, []part{good[0], good[1], {name: "image", file: "anonymous_file", ctype: "application/octet-stream", data: png}},
			400, "unsupported_file_mimetype"},
		{"input_fidelity with gpt-image-2", true, append([]part{{name: "input_fidelity", data: []byte("high")}}, good...), 400, nil},
		{"size not /16", true, append([]part{{name: "size", data: []byte("1000x1000")}}, good...), 400, nil},
		{"size past 3:1", true, append([]part{{name: "size", data: []byte("3200x1024")}}, good...), 400, nil},
		{"no prompt", true, good[1:], 400, nil},
		{"shut-down model", true, []part{good[0], {name: "model", data: []byte("gpt-image-1.5")}, good[2]}, 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer(t)
			key := s.Key
			if !tt.key {
				key = "sk-wrong"
			}
			status, out := post(t, s, key, tt.parts)
			if status != tt.wantStatus || errCode(out) != tt.wantCode {
				t.Errorf("status, code = %d, %v; want %d, %v (%v)", status, errCode(out), tt.wantStatus, tt.wantCode, out)
			}
			if status == 200 {
				data, _ := out["data"].([]any)
				if len(data) != 1 {
					t.Errorf("data = %v; want one image", out["data"])
				}
			}
		})
	}
}
