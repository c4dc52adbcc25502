package pipeline

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"frameforge"
	"frameforge/internal/provider"
	"frameforge/internal/provider/gemini/geminitest"
	"frameforge/internal/provider/openai"
	"frameforge/internal/provider/openai/openaitest"
)

// chainRig is a rig whose Google route falls back to OpenAI (the fake).
func chainRig(t *testing.T, concurrency int) (*rig, *openaitest.Server, provider.Route) {
	t.Helper()
	r := newRig(t, testCfg(), concurrency)
	fake := openaitest.NewServer(t)
	ocfg := openai.NewDefaultConfig()
	ocfg.BaseURL, ocfg.BaseBackoff = fake.BaseURL(), time.Millisecond
	reg := provider.NewRegistry(provider.Entry{Spec: provider.OpenAI(), ServerKey: fake.Key, Model: ocfg.Model,
		Provider: openai.New(ocfg, fake.Client(), slog.New(slog.NewTextHandler(io.Discard, nil)))})
	route, err := reg.Resolve("openai", nil)
	if err != nil {
		t.Fatal(err)
	}
	return r, fake, route
}

// The chain holds one provider slot from its first call to its last: the
// fallback call needs no second slot, never takes two, and the slot is free
// again afterwards.
func TestChainHoldsOneSlot(t *testing.T) {
	r, fake, fallback := chainRig(t, 1)
	r.fake.SetDefault(geminitest.Scenario{Kind: geminitest.RateLimited})
	fake.Script(openaitest.Scenario{Delay: 300 * time.Millisecond})

	var most atomic.Int64
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if n := int64(r.gate.Running()); n > most.Load() {
				most.Store(n)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	res, err := r.run(t, context.Background(), Input{Uploads: []Upload{photo(t)}, Fallbacks: []provider.Route{fallback}})
	close(done)
	if err != nil || res.Provider != "openai" || res.Model != "gpt-image-2" || len(res.Tried) != 2 ||
		res.Tried[0].Code != frameforge.EUpstreamRateLimit || res.Tried[1].Code != "" {
		t.Fatalf("result %+v, %v; want openai after google's 429", res, err)
	}
	if most.Load() != 1 {
		t.Errorf("at most %d slots were taken; want 1", most.Load())
	}
	if r.gate.Running() != 0 {
		t.Errorf("%d slots still taken after the edit", r.gate.Running())
	}
}

// The edit's deadline covers the whole chain: a slow fallback is cut off
// at it, as a timeout naming both providers.
func TestChainDeadlineCoversEveryCall(t *testing.T) {
	r, fake, fallback := chainRig(t, 1)
	r.fake.SetDefault(geminitest.Scenario{Kind: geminitest.RateLimited})
	fake.Script(openaitest.Scenario{Delay: 20 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := r.run(t, ctx, Input{Uploads: []Upload{photo(t)}, Fallbacks: []provider.Route{fallback}})
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the chain took %s; the deadline was 1.5s", took)
	}
	if code := frameforge.ErrorCode(err); code != frameforge.EUpstreamTimeout {
		t.Errorf("code = %s (%v); want upstream_timeout", code, err)
	}
	if msg := frameforge.ErrorMessage(err); !strings.Contains(msg, "google (upstream_rate_limited)") || !strings.Contains(msg, "openai (upstream_timeout)") {
		t.Errorf("message %q does not name both providers", msg)
	}
}

// A cancelled edit (the client left) never moves on to the next provider.
func TestChainStopsWhenCancelled(t *testing.T) {
	r, fake, fallback := chainRig(t, 1)
	r.fake.SetDefault(geminitest.Scenario{Kind: geminitest.Unavailable, Delay: 2 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	_, err := r.run(t, ctx, Input{Uploads: []Upload{photo(t)}, Fallbacks: []provider.Route{fallback}})
	if err == nil || len(fake.Requests()) != 0 {
		t.Errorf("err %v, %d OpenAI calls; want an error and no fallback", err, len(fake.Requests()))
	}
}

func TestFallsThrough(t *testing.T) {
	for code, want := range map[string]bool{
		frameforge.EUpstreamRateLimit: true, frameforge.EUpstreamUnavail: true, frameforge.EUpstreamError: true,
		frameforge.EUpstreamTimeout: true, frameforge.ENoImageReturned: true, frameforge.EProviderAuth: true,
		frameforge.EContentBlocked: false, frameforge.EProviderInput: false, frameforge.EInvalidAPIKey: false,
		frameforge.EImageTooLarge: false, frameforge.EInterrupted: false, frameforge.EOverloaded: false, frameforge.EInternal: false,
	} {
		if got := FallsThrough(frameforge.Errorf(code, "x")); got != want {
			t.Errorf("FallsThrough(%s) = %v; want %v", code, got, want)
		}
	}
	if FallsThrough(frameforge.Wrap(context.Canceled, frameforge.EUpstreamError, "x")) {
		t.Error("a cancelled call falls through")
	}
}
