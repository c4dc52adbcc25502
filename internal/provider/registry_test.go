package provider

import (
	"strings"
	"testing"

	"frameforge"
)

func TestResolve(t *testing.T) {
	r := New(Entry{ServerKey: "server-google", Model: "gemini-3.1-flash-image"}, Entry{}, []string{"fal-ai/nano-banana/edit"})
	tests := []struct {
		name, provider    string
		creds             Credentials
		wantID, wantModel string
		wantKey           string
		wantFromClient    bool
		wantFamily        string
	}{
		{"default is google with the server key", "", Credentials{}, "google", "gemini-3.1-flash-image", "server-google", false, "google"},
		{"alias, case and spaces", "  Nano-Banana ", Credentials{}, "google", "gemini-3.1-flash-image", "server-google", false, "google"},
		{"client key wins", "google", Credentials{Google: "client-google"}, "google", "gemini-3.1-flash-image", "client-google", true, "google"},
		{"fal model path, no key anywhere", "FAL:fal-ai/Flux-Kontext/dev", Credentials{}, "fal:fal-ai/flux-kontext/dev", "fal-ai/flux-kontext/dev", "", false, "fal"},
		{"fal client key", "fal:fal-ai/qwen-image-edit", Credentials{Fal: "id:secret", Google: "g"}, "fal:fal-ai/qwen-image-edit", "fal-ai/qwen-image-edit", "id:secret", true, "fal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Resolve(tt.provider, tt.creds)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != tt.wantID || got.Model != tt.wantModel || got.Key.Reveal() != tt.wantKey ||
				got.Key.FromClient() != tt.wantFromClient || got.Family() != tt.wantFamily {
				t.Errorf("Resolve(%q) = %+v (key %q, client %v, family %q); want %s %s %q %v %s", tt.provider, got,
					got.Key.Reveal(), got.Key.FromClient(), got.Family(), tt.wantID, tt.wantModel, tt.wantKey, tt.wantFromClient, tt.wantFamily)
			}
		})
	}
}

func TestResolveRefuses(t *testing.T) {
	r := New(Entry{}, Entry{}, nil)
	for _, name := range []string{"dall-e", "fal:", "fal:justone", "fal:fal-ai/../x", "fal:fal-ai/flux?x=1", "fal:fal-ai//edit"} {
		_, err := r.Resolve(name, Credentials{})
		if frameforge.ErrorCode(err) != frameforge.EUnknownProvider {
			t.Errorf("Resolve(%q) = %v; want unknown_provider", name, err)
		}
		if msg := frameforge.ErrorMessage(err); !strings.Contains(msg, "fal") {
			t.Errorf("Resolve(%q) message %q does not show the fal: syntax", name, msg)
		}
	}
}

func TestKeyNeverPrints(t *testing.T) {
	r := New(Entry{ServerKey: "SECRET"}, Entry{}, nil)
	got, _ := r.Resolve("google", Credentials{})
	for _, s := range []string{got.Key.String(), got.Key.GoString(), got.Key.LogValue().String()} {
		if strings.Contains(s, "SECRET") {
			t.Errorf("key printed as %q", s)
		}
	}
}
