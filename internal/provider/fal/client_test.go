package fal

import (
	"bytes"
	"context"
	"image"
	"slices"
	"strings"
	"testing"
	"time"

	"frameforge"
	"frameforge/internal/provider/fal/faltest"
)

// TestEditModels runs the four models the shipped client offers, with
// data-URI results (sync_mode) and with CDN URL results.
func TestEditModels(t *testing.T) {
	tests := []struct {
		model     string
		images    int
		arg       string // the image argument the model takes
		otherArg  string
		app       string // where status/result/cancel live
		outFormat string // "" = not sent
	}{
		{"fal-ai/nano-banana/edit", 2, "image_urls", "image_url", "fal-ai/nano-banana", "png"},
		{"fal-ai/qwen-image-edit", 1, "image_url", "image_urls", "fal-ai/qwen-image-edit", "png"},
		{"fal-ai/bytedance/seedream/v4/edit", 2, "image_urls", "image_url", "fal-ai/bytedance", ""},
		{"fal-ai/flux-kontext/dev", 1, "image_url", "image_urls", "fal-ai/flux-kontext", "png"},
	}
	for _, tt := range tests {
		for _, urls := range []bool{false, true} {
			name := tt.model + "/data-uri"
			if urls {
				name = tt.model + "/cdn-url"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				fake := faltest.New(t)
				fake.Configure(func(b *faltest.Behavior) { b.QueuedPolls, b.RunningPolls, b.OutputURLs = 2, 2, urls })
				c, logs := newTestClient(t, fake, nil)
				in := testImages(t, tt.images)

				img, err := c.Edit(context.Background(), editRequest(fake, tt.model, in))
				if err != nil {
					t.Fatalf("Edit() error = %v", err)
				}

				// The result: sniffed type, real bytes, dimensions.
				if img.ContentType != "image/png" {
					t.Errorf("ContentType = %q; want image/png", img.ContentType)
				}
				cfg, format, err := image.DecodeConfig(bytes.NewReader(img.Data))
				if err != nil || format != "png" {
					t.Fatalf("result does not decode as png: %v (%s)", err, format)
				}
				if cfg.Width != in[0].Width || img.Width != in[0].Width || img.Height != in[0].Height {
					t.Errorf("result %dx%d (decoded %dx%d); want %dx%d", img.Width, img.Height, cfg.Width, cfg.Height, in[0].Width, in[0].Height)
				}

				// The submit: model path, arguments, images in order.
				subs := fake.Submits()
				if len(subs) != 1 {
					t.Fatalf("Submits() = %d; want 1", len(subs))
				}
				s := subs[0]
				if s.Model != tt.model {
					t.Errorf("submitted model = %q; want %q", s.Model, tt.model)
				}
				if _, ok := s.Input[tt.arg]; !ok {
					t.Errorf("input has no %s: %v", tt.arg, keys(s.Input))
				}
				if _, ok := s.Input[tt.otherArg]; ok {
					t.Errorf("input has %s too", tt.otherArg)
				}
				if s.Input["sync_mode"] != true || s.Input["num_images"] != float64(1) || s.Input["prompt"] != "Stage this room" {
					t.Errorf("input sync_mode/num_images/prompt = %v/%v/%v", s.Input["sync_mode"], s.Input["num_images"], s.Input["prompt"])
				}
				if got, _ := s.Input["output_format"].(string); got != tt.outFormat {
					t.Errorf("output_format = %q; want %q", got, tt.outFormat)
				}
				if len(s.Images) != len(in) {
					t.Fatalf("fake decoded %d images; want %d", len(s.Images), len(in))
				}
				for i := range in {
					if !bytes.Equal(s.Images[i].Data, in[i].Data) || s.Images[i].ContentType != "image/png" {
						t.Errorf("input image %d differs or has type %q", i, s.Images[i].ContentType)
					}
				}

				// Every call: right path, right key; the CDN never sees the key.
				sawFile := false
				prefix := "/" + tt.app + "/requests/" + s.RequestID
				for _, r := range fake.Requests() {
					switch {
					case strings.HasPrefix(r.Path, "/files/"):
						sawFile = true
						if r.Auth != "" {
							t.Errorf("CDN download sent Authorization %q", r.Auth)
						}
						continue
					case r.Method == "POST":
						if r.Path != "/"+tt.model {
							t.Errorf("submit path = %q; want /%s", r.Path, tt.model)
						}
					case r.Path == prefix+"/status":
						if r.Query != "logs=1" {
							t.Errorf("status query = %q; want logs=1", r.Query)
						}
					case r.Path == prefix:
					default:
						t.Errorf("unexpected request %s %s", r.Method, r.Path)
					}
					if r.Auth != "Key "+fake.Key {
						t.Errorf("%s %s: Authorization = %q; want Key <key>", r.Method, r.Path, r.Auth)
					}
				}
				if sawFile != urls {
					t.Errorf("CDN download seen = %v; want %v", sawFile, urls)
				}
				calls := fake.StatusCalls()
				if len(calls) != 5 {
					t.Errorf("status calls = %d; want 5 (2 queued, 2 running, 1 completed)", len(calls))
				}
				if len(fake.Cancels()) != 0 {
					t.Errorf("a successful edit sent a cancel")
				}
				out := logs.String()
				if !strings.Contains(out, "fal status") || !strings.Contains(out, "queue_position") || !strings.Contains(out, "step 1") {
					t.Errorf("debug log lacks status lines, queue position or job logs:\n%s", out)
				}
				if strings.Contains(out, fake.Key) {
					t.Errorf("log contains the key")
				}
			})
		}
	}
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestEditUploadsLargeInputs checks that an image over UploadThreshold goes
// through fal storage (initiate with the key, PUT without) and the submit
// carries its file_url, while a small one stays inline.
func TestEditUploadsLargeInputs(t *testing.T) {
	fake := faltest.New(t)
	c, _ := newTestClient(t, fake, func(cfg *Config) { cfg.UploadThreshold = 2000 })
	small := testPNG(t, 8, 6, 1, false)
	large := testPNG(t, 40, 30, 2, true)
	if len(small.Data) > 2000 || len(large.Data) <= 2000 {
		t.Fatalf("test images are %d and %d bytes; want <= and > 2000", len(small.Data), len(large.Data))
	}

	if _, err := c.Edit(context.Background(), editRequest(fake, "fal-ai/nano-banana/edit", []frameforge.Image{small, large})); err != nil {
		t.Fatalf("Edit() error = %v", err)
	}
	ups := fake.Uploads()
	if len(ups) != 1 {
		t.Fatalf("Uploads() = %d; want 1", len(ups))
	}
	if !bytes.Equal(ups[0].Data, large.Data) || ups[0].ContentType != "image/png" || ups[0].PutAuth != "" {
		t.Errorf("upload: %d bytes, type %q, PUT auth %q; want the large image, image/png, no key", len(ups[0].Data), ups[0].ContentType, ups[0].PutAuth)
	}
	refs, _ := fake.Submits()[0].Input["image_urls"].([]any)
	if len(refs) != 2 {
		t.Fatalf("image_urls = %v", refs)
	}
	if ref, _ := refs[0].(string); !strings.HasPrefix(ref, "data:image/png;base64,") {
		t.Errorf("image_urls[0] = %.40q; want a data URI", ref)
	}
	if refs[1] != ups[0].FileURL {
		t.Errorf("image_urls[1] = %v; want file_url %s", refs[1], ups[0].FileURL)
	}
	imgs := fake.Submits()[0].Images
	if len(imgs) != 2 || !bytes.Equal(imgs[0].Data, small.Data) || !bytes.Equal(imgs[1].Data, large.Data) {
		t.Errorf("fake did not decode the two images in order")
	}
	for _, r := range fake.Requests() {
		if r.Path == "/storage/upload/initiate" && (r.Auth != "Key "+fake.Key || r.Query != "storage_type=fal-cdn-v3") {
			t.Errorf("initiate: auth %q, query %q", r.Auth, r.Query)
		}
	}
}

// TestEditUploadsConcurrently uploads every image (threshold 0).
func TestEditUploadsConcurrently(t *testing.T) {
	fake := faltest.New(t)
	c, _ := newTestClient(t, fake, func(cfg *Config) { cfg.UploadThreshold = 0 })
	in := testImages(t, 5)
	if _, err := c.Edit(context.Background(), editRequest(fake, "fal-ai/bytedance/seedream/v4/edit", in)); err != nil {
		t.Fatalf("Edit() error = %v", err)
	}
	if n := len(fake.Uploads()); n != 5 {
		t.Fatalf("Uploads() = %d; want 5", n)
	}
	got := fake.Submits()[0].Images
	for i := range in {
		if !bytes.Equal(got[i].Data, in[i].Data) {
			t.Errorf("image %d out of order", i)
		}
	}
}

// TestEditPollCadence checks the default cadence with the client's clock
// replaced: the waits between status polls start at 100ms and grow by half
// up to 2s, a Retry-After stretches one wait, and every status answer is
// 202 until the 200 COMPLETED.
func TestEditPollCadence(t *testing.T) {
	t.Parallel()
	fake := faltest.New(t)
	fake.Configure(func(b *faltest.Behavior) { b.QueuedPolls, b.RunningPolls = 3, 7 })
	fake.FailAt(faltest.StepStatus, withTimes(faltest.RateLimited(3*time.Second), 1))
	c, _ := newTestClient(t, fake, func(cfg *Config) {
		d := NewDefaultConfig()
		cfg.PollInitial, cfg.PollMax = d.PollInitial, d.PollMax
	})
	waits := recordSleeps(c)

	if _, err := c.Edit(context.Background(), editRequest(fake, "fal-ai/nano-banana/edit", testImages(t, 1))); err != nil {
		t.Fatalf("Edit() error = %v", err)
	}

	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	want := []time.Duration{
		ms(100),
		3 * time.Second, // Retry-After of the 429 answer, over the 150ms the cadence was at
		ms(225), ms(337.5), ms(506.25), ms(759.375), ms(1139.0625), ms(1708.59375),
		2 * time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second,
	}
	if got := *waits; !slices.Equal(got, want) {
		t.Errorf("waits between polls = %v; want %v", got, want)
	}
	calls := fake.StatusCalls()
	if len(calls) != len(want) {
		t.Fatalf("status calls = %d; want %d (one 429, 3 queued, 7 running, 1 completed)", len(calls), len(want))
	}
	seen := map[string]bool{}
	for i, sc := range calls[1:] {
		seen[sc.Status] = true
		want := 202
		if sc.Status == "COMPLETED" {
			want = 200
			if i != len(calls)-2 {
				t.Errorf("polled again after COMPLETED")
			}
		}
		if sc.Code != want {
			t.Errorf("status call %d: %s answered %d; want %d", i+1, sc.Status, sc.Code, want)
		}
	}
	if !seen["IN_QUEUE"] || !seen["IN_PROGRESS"] || !seen["COMPLETED"] {
		t.Errorf("statuses seen %v; want all three", seen)
	}
}

func withTimes(f faltest.Fault, n int) faltest.Fault {
	f.Times = n
	return f
}

// recordSleeps makes c's waits return at once (or with ctx's error) and
// records them. A single Edit polls from one goroutine; read the record
// after it returns.
func recordSleeps(c *Client) *[]time.Duration {
	var waits []time.Duration
	c.sleep = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return ctx.Err()
	}
	return &waits
}

// TestEditStatusRetries checks that failed status polls are retried up to
// maxStatusRetries in a row, and that giving up cancels the job at fal.
func TestEditStatusRetries(t *testing.T) {
	for _, fails := range []int{maxStatusRetries, maxStatusRetries + 1} {
		fake := faltest.New(t)
		fake.FailAt(faltest.StepStatus, faltest.Fault{Status: 502, Body: "<html>bad gateway</html>", Header: map[string]string{"Content-Type": "text/html"}, Times: fails})
		c, _ := newTestClient(t, fake, nil)
		_, err := c.Edit(context.Background(), editRequest(fake, "fal-ai/nano-banana/edit", testImages(t, 1)))
		if fails <= maxStatusRetries {
			if err != nil {
				t.Errorf("%d failed polls: Edit() error = %v; want success", fails, err)
			}
			continue
		}
		if code := frameforge.ErrorCode(err); code != frameforge.EUpstreamError {
			t.Errorf("%d failed polls: code = %q (%v); want %s", fails, code, err, frameforge.EUpstreamError)
		}
		if n := len(fake.Cancels()); n != 1 {
			t.Errorf("%d failed polls: cancels = %d; want 1", fails, n)
		}
	}
}

// TestPollSchedule checks the default cadence on paper: a job done at 3 s is
// seen done at the first poll after it, well under 5 s, with few calls.
func TestPollSchedule(t *testing.T) {
	cfg := NewDefaultConfig()
	var at time.Duration
	calls := 0
	for w := cfg.PollInitial; at < 3*time.Second; w = pollWait(w, cfg.PollMax) {
		at += w
		calls++
	}
	if at > 3500*time.Millisecond || calls > 30 {
		t.Errorf("a 3 s job is seen done at %v after %d polls; want within 0.5 s of completion and <= 30 polls", at, calls)
	}
	if w := pollWait(cfg.PollMax, cfg.PollMax); w != cfg.PollMax {
		t.Errorf("the wait grows past PollMax: %v", w)
	}
}
