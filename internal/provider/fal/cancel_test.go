package fal

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"frameforge"
	"frameforge/internal/provider/fal/faltest"
)

// TestEditDeadline: a job stuck in fal's queue past our deadline is an
// upstream timeout that names the queue position, and is cancelled at fal.
func TestEditDeadline(t *testing.T) {
	t.Parallel()
	fake := faltest.New(t)
	fake.Configure(func(b *faltest.Behavior) { b.StuckInQueue = true })
	c, _ := newTestClient(t, fake, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Edit(ctx, editRequest(fake, "fal-ai/bytedance/seedream/v4/edit", testImages(t, 1)))
	elapsed := time.Since(start)

	if code := frameforge.ErrorCode(err); code != frameforge.EUpstreamTimeout {
		t.Fatalf("code = %q (%v); want %s", code, err, frameforge.EUpstreamTimeout)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error does not wrap context.DeadlineExceeded")
	}
	if msg := frameforge.ErrorMessage(err); !strings.Contains(msg, "queue at position") {
		t.Errorf("message = %q; want the queue position", msg)
	}
	if elapsed > time.Second {
		t.Errorf("Edit took %v after a 300ms deadline", elapsed)
	}
	cancels := fake.Cancels()
	if len(cancels) != 1 || cancels[0].RequestID != fake.Submits()[0].RequestID || cancels[0].Outcome != "CANCELLATION_REQUESTED" {
		t.Fatalf("Cancels() = %+v; want one CANCELLATION_REQUESTED for the job", cancels)
	}
	for _, r := range fake.Requests() {
		if r.Method == "PUT" && (r.Path != "/fal-ai/bytedance/requests/"+cancels[0].RequestID+"/cancel" || r.Auth != "Key "+fake.Key) {
			t.Errorf("cancel sent as PUT %s with auth %q", r.Path, r.Auth)
		}
	}
}

// TestEditClientCancel: when the client hangs up while the job runs, Edit
// cancels the job at fal at once, returns context.Canceled, and polls no
// more.
func TestEditClientCancel(t *testing.T) {
	t.Parallel()
	fake := faltest.New(t)
	fake.Configure(func(b *faltest.Behavior) { b.RunningPolls = 1 << 20 })
	c, _ := newTestClient(t, fake, nil)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := c.Edit(ctx, editRequest(fake, "fal-ai/nano-banana/edit", testImages(t, 1)))
		errc <- err
	}()
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	err := fake.Wait(wctx, func() bool {
		for _, sc := range fake.StatusCalls() {
			if sc.Status == "IN_PROGRESS" {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("job never reached IN_PROGRESS: %v", err)
	}

	cancel()
	start := time.Now()
	select {
	case err = <-errc:
	case <-time.After(2 * time.Second):
		t.Fatal("Edit did not return after the client went away")
	}
	if took := time.Since(start); took > 1500*time.Millisecond { // generous: a loaded CI machine
		t.Errorf("Edit returned %v after cancel; want promptly", took)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Edit() error = %v; want context.Canceled", err)
	}
	if n := len(fake.Cancels()); n != 1 {
		t.Fatalf("Cancels() = %d when Edit returned; want 1", n)
	}
	// Polling happens inside Edit, which has returned; what is left to
	// check is that the job was cancelled after the last poll, not before.
	cancelled := fake.Cancels()[0].Time
	for _, sc := range fake.StatusCalls() {
		if sc.Time.After(cancelled) {
			t.Errorf("a status call arrived %v after the cancel", sc.Time.Sub(cancelled))
		}
	}
}

// TestEditRefusedBeforeSending covers requests refused without a call to fal.
func TestEditRefusedBeforeSending(t *testing.T) {
	tests := []struct {
		name    string
		model   string
		images  int
		wantMsg string
	}{
		{"single-image model, two images", "fal-ai/flux-kontext/dev", 2, "takes one image; 2 were sent"},
		{"qwen, three images", "fal-ai/qwen-image-edit", 3, "takes one image; 3 were sent"},
		{"seedream over 10", "fal-ai/bytedance/seedream/v4/edit", 11, "at most 10 images; 11 were sent"},
		{"no image", "fal-ai/nano-banana/edit", 0, "no image"},
		{"empty model", "", 1, "not a valid endpoint id"},
		{"owner only", "fal-ai", 1, "too few"},
		{"workflow without app", "workflows/someone", 1, "too few"},
		{"empty segment", "fal-ai//edit", 1, "empty or dot"},
		{"trailing slash", "fal-ai/nano-banana/", 1, "empty or dot"},
		{"leading slash", "/fal-ai/nano-banana", 1, "empty or dot"},
		{"dot dot", "fal-ai/../storage/upload", 1, "empty or dot"},
		{"query", "fal-ai/nano-banana/edit?x=1", 1, "unexpected character"},
		{"fragment", "fal-ai/nano-banana#x", 1, "unexpected character"},
		{"escape", "fal-ai/nano%2Fbanana", 1, "unexpected character"},
		{"space", "fal-ai/nano banana", 1, "unexpected character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := faltest.New(t)
			c, _ := newTestClient(t, fake, nil)
			_, err := c.Edit(context.Background(), editRequest(fake, tt.model, testImages(t, tt.images)))
			if code := frameforge.ErrorCode(err); code != frameforge.EInvalidRequest {
				t.Fatalf("code = %q (%v); want %s", code, err, frameforge.EInvalidRequest)
			}
			if msg := frameforge.ErrorMessage(err); !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("message = %q; want it to contain %q", msg, tt.wantMsg)
			}
			if n := len(fake.Requests()); n != 0 {
				t.Errorf("%d requests sent; want none", n)
			}
		})
	}
}

// TestEditSlowSteps: a deadline that passes in a slow submit or result fetch
// is an upstream timeout; there is no running job to cancel then.
func TestEditSlowSteps(t *testing.T) {
	for _, step := range []faltest.Step{faltest.StepSubmit, faltest.StepResult} {
		t.Run(string(step), func(t *testing.T) {
			t.Parallel()
			fake := faltest.New(t)
			fake.Configure(func(b *faltest.Behavior) { b.Delays = map[faltest.Step]time.Duration{step: 5 * time.Second} })
			c, _ := newTestClient(t, fake, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := c.Edit(ctx, editRequest(fake, "fal-ai/qwen-image-edit", testImages(t, 1)))
			if code := frameforge.ErrorCode(err); code != frameforge.EUpstreamTimeout {
				t.Errorf("code = %q (%v); want %s", code, err, frameforge.EUpstreamTimeout)
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("Edit took %v after a 200ms deadline", took)
			}
			if n := len(fake.Cancels()); n != 0 {
				t.Errorf("cancels = %d; want 0", n)
			}
		})
	}
}
