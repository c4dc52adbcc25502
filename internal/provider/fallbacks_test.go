package provider

import (
	"context"
	"strings"
	"testing"

	"frameforge"
)

// nopProvider stands in for an implementation: Fallbacks leaves out
// entries without one.
type nopProvider struct{}

func (nopProvider) Edit(context.Context, frameforge.EditRequest) (frameforge.Image, error) {
	return frameforge.Image{}, nil
}

// table is the built-in table with implementations and the given server keys.
func table(googleKey, falKey, openaiKey string) *Registry {
	return NewRegistry(
		Entry{Spec: Google(), Provider: nopProvider{}, ServerKey: googleKey, Model: "gemini-3.1-flash-image"},
		Entry{Spec: Fal(), Provider: nopProvider{}, ServerKey: falKey},
		Entry{Spec: OpenAI(), Provider: nopProvider{}, ServerKey: openaiKey, Model: "gpt-image-2"},
	)
}

func withChains(t *testing.T, r *Registry, spec string) *Registry {
	t.Helper()
	chains, err := ParseChains(spec)
	if err != nil {
		t.Fatal(err)
	}
	r, err = r.WithFallbacks(chains)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestParseChains(t *testing.T) {
	got, err := ParseChains(" google > fal:fal-ai/nano-banana/edit>openai , openai>google ")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].String() != "google>fal:fal-ai/nano-banana/edit>openai" || got[1].String() != "openai>google" {
		t.Errorf("ParseChains = %v", got)
	}
	if got, err := ParseChains("  "); err != nil || got != nil {
		t.Errorf("empty value = %v, %v; want no chains", got, err)
	}
	for spec, want := range map[string]string{
		"google":          `chain 1 "google" names only one provider`,
		"google>":         `chain 1 "google>" has an empty provider name`,
		"google>>openai":  `has an empty provider name`,
		"google>openai,,": `chain 2 is empty`,
	} {
		if _, err := ParseChains(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseChains(%q) = %v; want an error containing %q", spec, err, want)
		}
	}
}

func TestWithFallbacksNamesTheBadEntry(t *testing.T) {
	r := table("", "", "")
	for spec, want := range map[string]string{
		"google>fal>openai":                   `"fal" in chain 1 "google>fal>openai" is not a provider: Unknown provider "fal". Valid providers are`,
		"google>openai,nano-banana>fal:a/b":   `chains 1 and 2 both start with "google"`,
		"google>dall-e":                       `"dall-e" in chain 1 "google>dall-e" is not a provider: Unknown provider "dall-e"`,
		"openai>openai:gpt-image-2":           `chain 1 "openai>openai:gpt-image-2" names "openai:gpt-image-2" twice`,
		"google>openai:gpt-image-1":           `"openai:gpt-image-1" in chain 1 "google>openai:gpt-image-1" is not a provider: The OpenAI model "gpt-image-1" is shut down`,
		"fal:fal-ai/x/edit>fal:fal-ai/../bad": `"fal:fal-ai/../bad" in chain 1`,
	} {
		chains, err := ParseChains(spec)
		if err != nil {
			t.Fatalf("ParseChains(%q): %v", spec, err)
		}
		if _, err := r.WithFallbacks(chains); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("WithFallbacks(%q) = %v; want an error containing %q", spec, err, want)
		}
	}
}

func routeIDs(rs []Route) string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return strings.Join(ids, ">")
}

func TestFallbacks(t *testing.T) {
	r := withChains(t, table("g", "f", "o"), "Nano-Banana>fal:fal-ai/nano-banana/edit>openai, openai:gpt-image-2>google")
	if c := r.Chains(); len(c) != 2 || c[0].String() != "google>fal:fal-ai/nano-banana/edit>openai" || c[1].String() != "openai:gpt-image-2>google" {
		t.Errorf("Chains() = %v; want the canonical names", c)
	}
	primary, _ := r.Resolve("google", nil)
	fb := r.Fallbacks(primary, nil)
	if got := routeIDs(fb); got != "fal:fal-ai/nano-banana/edit>openai" {
		t.Fatalf("Fallbacks(google) = %s", got)
	}
	if fb[0].Key.Reveal() != "f" || fb[0].Key.FromClient() || fb[0].Model != "fal-ai/nano-banana/edit" || fb[1].Model != "gpt-image-2" {
		t.Errorf("fallback routes = %+v", fb)
	}
	// "openai" is the model gpt-image-2: the chain headed by
	// openai:gpt-image-2 applies.
	primary, _ = r.Resolve("openai", nil)
	if got := routeIDs(r.Fallbacks(primary, nil)); got != "google" {
		t.Errorf("Fallbacks(openai) = %s; want google", got)
	}
	// A provider that heads no chain, or another fal model: none.
	for _, name := range []string{"fal:fal-ai/nano-banana/edit", "fal:fal-ai/flux-kontext/dev"} {
		primary, _ = r.Resolve(name, nil)
		if fb := r.Fallbacks(primary, nil); fb != nil {
			t.Errorf("Fallbacks(%s) = %s; want none", name, routeIDs(fb))
		}
	}
}

func TestFallbacksNeedAKeyAndKeepClientKeysWithTheirProvider(t *testing.T) {
	// fal has no server key: it takes part only with the client's own.
	r := withChains(t, table("", "", "o"), "google>fal:fal-ai/nano-banana/edit>openai")
	primary, _ := r.Resolve("google", Credentials{"google": "client-google"})
	fb := r.Fallbacks(primary, Credentials{"google": "client-google"})
	if got := routeIDs(fb); got != "openai" {
		t.Fatalf("Fallbacks without a fal key = %s; want openai only", got)
	}
	if fb[0].Key.Reveal() != "o" || fb[0].Key.FromClient() {
		t.Error("the client's Google key went to OpenAI")
	}
	creds := Credentials{"google": "client-google", "fal": "client-fal"}
	fb = r.Fallbacks(primary, creds)
	if got := routeIDs(fb); got != "fal:fal-ai/nano-banana/edit>openai" || fb[0].Key.Reveal() != "client-fal" || !fb[0].Key.FromClient() {
		t.Errorf("Fallbacks with a client fal key = %s (%v)", got, fb)
	}
	// Nothing with a key after the primary: no fallback at all.
	r = withChains(t, table("", "", ""), "google>fal:fal-ai/nano-banana/edit>openai")
	if fb := r.Fallbacks(primary, nil); len(fb) != 0 {
		t.Errorf("Fallbacks with no keys = %s", routeIDs(fb))
	}
}
