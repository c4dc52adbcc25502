package provider

import (
	"strings"
	"testing"

	"frameforge"
)

// builtin is the built-in table with server keys for google and fal.
func builtin(googleKey, falKey string) *Registry {
	return NewRegistry(
		Entry{Spec: Google(), ServerKey: googleKey, Model: "gemini-3.1-flash-image"},
		Entry{Spec: Fal(), ServerKey: falKey},
	)
}

func TestResolve(t *testing.T) {
	r := builtin("server-google", "")
	tests := []struct {
		name, provider    string
		creds             Credentials
		wantID, wantModel string
		wantKey           string
		wantFromClient    bool
		wantFamily        string
	}{
		{"default is google with the server key", "", nil, "google", "gemini-3.1-flash-image", "server-google", false, "google"},
		{"alias, case and spaces", "  Nano-Banana ", nil, "google", "gemini-3.1-flash-image", "server-google", false, "google"},
		{"client key wins", "google", Credentials{"google": "client-google"}, "google", "gemini-3.1-flash-image", "client-google", true, "google"},
		{"fal model path, no key anywhere", "FAL:fal-ai/Flux-Kontext/dev", nil, "fal:fal-ai/flux-kontext/dev", "fal-ai/flux-kontext/dev", "", false, "fal"},
		{"fal client key", "fal:fal-ai/qwen-image-edit", Credentials{"fal": "id:secret", "google": "g"}, "fal:fal-ai/qwen-image-edit", "fal-ai/qwen-image-edit", "id:secret", true, "fal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Resolve(tt.provider, tt.creds)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != tt.wantID || got.Model != tt.wantModel || got.Key.Reveal() != tt.wantKey ||
				got.Key.FromClient() != tt.wantFromClient || got.Family != tt.wantFamily {
				t.Errorf("Resolve(%q) = %+v (key %q, client %v); want %s %s %q %v %s", tt.provider, got,
					got.Key.Reveal(), got.Key.FromClient(), tt.wantID, tt.wantModel, tt.wantKey, tt.wantFromClient, tt.wantFamily)
			}
		})
	}
}

func TestResolveRefuses(t *testing.T) {
	r := builtin("", "")
	for _, name := range []string{"dall-e", "fal", "fal:", "fal:justone", "fal:fal-ai/../x", "fal:fal-ai/flux?x=1", "fal:fal-ai//edit"} {
		_, err := r.Resolve(name, nil)
		if frameforge.ErrorCode(err) != frameforge.EUnknownProvider {
			t.Errorf("Resolve(%q) = %v; want unknown_provider", name, err)
		}
		if msg := frameforge.ErrorMessage(err); !strings.Contains(msg, "fal") {
			t.Errorf("Resolve(%q) message %q does not show the fal: syntax", name, msg)
		}
	}
	_, err := r.Resolve("dall-e", nil)
	want := `Valid providers are "google", "nano-banana" and "fal:<model path>" (for example "fal:fal-ai/nano-banana/edit").`
	if msg := frameforge.ErrorMessage(err); !strings.HasSuffix(msg, want) {
		t.Errorf("unknown provider message = %q; want it to end %q", msg, want)
	}
}

func TestCredentials(t *testing.T) {
	r := builtin("", "")
	tests := []struct {
		name    string
		headers map[string]string
		want    Credentials
	}{
		{"none", nil, Credentials{}},
		{"google header, trimmed", map[string]string{"X-Google-API-Key": " g1 "}, Credentials{"google": "g1"}},
		{"gemini alias", map[string]string{"X-Gemini-API-Key": "g2"}, Credentials{"google": "g2"}},
		{"google header wins over its alias", map[string]string{"X-Google-API-Key": "g1", "X-Gemini-API-Key": "g2"}, Credentials{"google": "g1"}},
		{"fal header", map[string]string{"X-Fal-Key": "id:s"}, Credentials{"fal": "id:s"}},
		{"bearer is a fal key (compat)", map[string]string{"Authorization": "Bearer id:s"}, Credentials{"fal": "id:s"}},
		{"Key scheme, any case", map[string]string{"Authorization": "key  id:s"}, Credentials{"fal": "id:s"}},
		{"unknown scheme ignored", map[string]string{"Authorization": "Basic abc"}, Credentials{}},
		{"no scheme ignored", map[string]string{"Authorization": "abc"}, Credentials{}},
		{"X-Fal-Key wins over Authorization", map[string]string{"X-Fal-Key": "a", "Authorization": "Key b"}, Credentials{"fal": "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.Credentials(func(h string) string { return tt.headers[h] })
			if len(got) != len(tt.want) {
				t.Fatalf("Credentials = %v; want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("Credentials[%s] = %q; want %q", k, got[k], v)
				}
			}
		})
	}
}

// TestTableDrivesEverything: a provider added to the table is resolved,
// described, and its key header is read and allowed, with no other change.
func TestTableDrivesEverything(t *testing.T) {
	acme := Entry{Spec: Spec{ID: "acme", Label: "Acme", KeyHeaders: []KeyHeader{{Name: "X-Acme-Key"}},
		KeyEnv: []string{"ACME_KEY"}, Prefix: "acme:", Models: []string{"paint-1"}}}
	r := NewRegistry(Entry{Spec: Google()}, Entry{Spec: Fal()}, acme)
	route, err := r.Resolve("acme:paint-2", r.Credentials(func(h string) string {
		if h == "X-Acme-Key" {
			return "ak"
		}
		return ""
	}))
	if err != nil || route.ID != "acme:paint-2" || route.Family != "acme" || route.Key.Reveal() != "ak" {
		t.Errorf("Resolve(acme:paint-2) = %+v, %v", route, err)
	}
	if got := strings.Join(r.KeyHeaders(), ","); got != "X-Google-API-Key,X-Gemini-API-Key,X-Fal-Key,Authorization,X-Acme-Key" {
		t.Errorf("KeyHeaders = %s", got)
	}
	d := r.Describe()
	if len(d) != 3 || d[2].ID != "acme" || d[2].Models[0] != "paint-1" || d[2].KeyEnv[0] != "ACME_KEY" {
		t.Errorf("Describe = %+v", d)
	}
	if _, err := r.Resolve("acme", nil); frameforge.ErrorCode(err) != frameforge.EUnknownProvider ||
		!strings.Contains(frameforge.ErrorMessage(err), `"acme:<model path>"`) {
		t.Errorf("Resolve(acme) = %v; want unknown_provider listing acme:<model path>", err)
	}
}

func TestNames(t *testing.T) {
	if got := strings.Join(builtin("", "").Names(), ","); got != "google,nano-banana" {
		t.Errorf("Names = %s; want google,nano-banana (compat)", got)
	}
	if got := builtin("", "").Default(); got != "google" {
		t.Errorf("Default = %s; want google (compat)", got)
	}
}

func TestKeyNeverPrints(t *testing.T) {
	r := builtin("SECRET", "")
	got, _ := r.Resolve("google", nil)
	for _, s := range []string{got.Key.String(), got.Key.GoString(), got.Key.LogValue().String()} {
		if strings.Contains(s, "SECRET") {
			t.Errorf("key printed as %q", s)
		}
	}
	if keys := r.ServerKeys(); len(keys) != 1 || keys[0] != "SECRET" {
		t.Errorf("ServerKeys = %v", keys)
	}
}

// TestResolveOpenAI: a prefixed provider whose Setup gave a default model
// answers to its bare ID too; fal, which has none, still does not.
func TestResolveOpenAI(t *testing.T) {
	r := NewRegistry(Entry{Spec: Google(), Model: "gemini-3.1-flash-image"}, Entry{Spec: Fal()},
		Entry{Spec: OpenAI(), ServerKey: "server-openai", Model: "gpt-image-2"})
	creds := r.Credentials(func(h string) string {
		if h == "X-OpenAI-Key" {
			return "client-openai"
		}
		return ""
	})
	tests := []struct {
		name, provider    string
		creds             Credentials
		wantID, wantModel string
		wantKey           string
	}{
		{"bare id is the default model", "openai", nil, "openai", "gpt-image-2", "server-openai"},
		{"bare id, case and spaces, client key", " OpenAI ", creds, "openai", "gpt-image-2", "client-openai"},
		{"prefixed model", "openai:gpt-image-2", nil, "openai:gpt-image-2", "gpt-image-2", "server-openai"},
		{"later model", "openai:gpt-image-2.5-flare", creds, "openai:gpt-image-2.5-flare", "gpt-image-2.5-flare", "client-openai"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Resolve(tt.provider, tt.creds)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != tt.wantID || got.Model != tt.wantModel || got.Family != "openai" || got.Key.Reveal() != tt.wantKey {
				t.Errorf("Resolve(%q) = %+v (key %q); want %s %s openai %q", tt.provider, got, got.Key.Reveal(),
					tt.wantID, tt.wantModel, tt.wantKey)
			}
		})
	}
	for _, name := range []string{"fal", "openai:", "openai:gpt-image-1.5", "openai:gpt-image-1", "openai:chatgpt-image-latest", "openai:gpt-4o"} {
		if _, err := r.Resolve(name, nil); frameforge.ErrorCode(err) != frameforge.EUnknownProvider {
			t.Errorf("Resolve(%q) = %v; want unknown_provider", name, err)
		}
	}
	_, err := r.Resolve("openai:gpt-image-1.5", nil)
	if msg := frameforge.ErrorMessage(err); !strings.Contains(msg, "shut down") {
		t.Errorf("Resolve(openai:gpt-image-1.5) message = %q; want it to say the model is shut down", msg)
	}
	_, err = r.Resolve("dall-e", nil)
	want := `Valid providers are "google", "nano-banana", "fal:<model path>" (for example "fal:fal-ai/nano-banana/edit"), "openai" and "openai:<model path>" (for example "openai:gpt-image-2").`
	if msg := frameforge.ErrorMessage(err); !strings.HasSuffix(msg, want) {
		t.Errorf("unknown provider message = %q; want it to end %q", msg, want)
	}
	if got := strings.Join(r.Names(), ","); got != "google,nano-banana,openai" {
		t.Errorf("Names = %s; want google,nano-banana,openai", got)
	}
	if d := r.Describe(); d[2].Model != "gpt-image-2" || d[2].Prefix != "openai:" || d[1].Model != "" {
		t.Errorf("Describe = %+v", d)
	}
	// Without a default model the bare id is unknown, like fal's.
	bare := NewRegistry(Entry{Spec: OpenAI()})
	if _, err := bare.Resolve("openai", nil); frameforge.ErrorCode(err) != frameforge.EUnknownProvider {
		t.Errorf("Resolve(openai) without a default model = %v; want unknown_provider", err)
	}
}
