package pipeline

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"testing"
	"time"

	"frameforge"
	"frameforge/internal/admission"
	"frameforge/internal/imaging"
	"frameforge/internal/imaging/imagingtest"
	"frameforge/internal/metrics"
	"frameforge/internal/provider"
	"frameforge/internal/provider/gemini"
	"frameforge/internal/provider/gemini/geminitest"
)

// rig is a pipeline whose Google route talks to the Gemini fake: no HTTP
// request of ours anywhere, as a job worker will run it.
type rig struct {
	p     *Pipeline
	gate  *admission.Gate
	fake  *geminitest.Server
	route provider.Route
}

func newRig(t *testing.T, cfg Config, concurrency int) *rig {
	t.Helper()
	t.Setenv("GEMINI_API_KEY", "")
	t.Setenv("GOOGLE_API_KEY", "")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	fake := geminitest.NewServer(t)
	gcfg := gemini.NewDefaultConfig()
	gcfg.BaseURL, gcfg.BaseBackoff = fake.URL, time.Millisecond
	reg := provider.NewRegistry(provider.Entry{Spec: provider.Google(), Provider: gemini.New(gcfg, fake.Client(), log),
		ServerKey: fake.Key, Model: gcfg.Model})
	route, err := reg.Resolve("google", nil)
	if err != nil {
		t.Fatal(err)
	}
	gate := admission.New(concurrency, 4, cfg.SlotTimeout)
	m := metrics.New(metrics.Gauges{EditsRunning: gate.Running, EditsWaiting: gate.Waiting})
	return &rig{p: New(cfg, gate, m, log), gate: gate, fake: fake, route: route}
}

func testCfg() Config {
	return Config{Prepare: imaging.Options{MaxSide: 1024}, UpstreamBytes: 4 << 20, MaxPixels: 40_000_000,
		SlotTimeout: 2 * time.Second, DecodeMemory: 1 << 30}
}

func photo(t *testing.T) Upload {
	t.Helper()
	data := imagingtest.WithEXIF(imagingtest.JPEG(t, imagingtest.Photo(t, 320, 240), 85), 6, true)
	u, err := CheckImage(data, "room.jpg", 40_000_000)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (r *rig) run(t *testing.T, ctx context.Context, in Input) (Result, error) {
	t.Helper()
	tk, err := r.p.Admit()
	if err != nil {
		t.Fatal(err)
	}
	defer tk.Release()
	in.Route = r.route
	return r.p.Run(ctx, tk, in)
}

func TestRunWithoutHTTP(t *testing.T) {
	r := newRig(t, testCfg(), 2)
	r.fake.SetDefault(geminitest.Scenario{Kind: geminitest.ImageOnly})
	res, err := r.run(t, context.Background(), Input{Uploads: []Upload{photo(t)}, Prompt: "stage it"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Fallback || res.Provider != "google" || res.Image.ContentType != imaging.TypePNG || res.Image.Width == 0 {
		t.Errorf("result = %+v; want a checked PNG from google", res)
	}
	reqs := r.fake.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests reached the fake; want 1", len(reqs))
	}
	sent := reqs[0].Parts()[0].Data
	if bytes.Contains(sent, []byte("Exif")) {
		t.Error("the prepared photo still carries EXIF")
	}
}

// The pipeline gives the codes /api/edit gives, for the same causes.
func TestRunErrorCodes(t *testing.T) {
	bomb := pngHeaderClaiming(t, 30000, 30000)
	tests := []struct {
		name string
		sc   geminitest.Scenario
		code string
	}{
		{"content blocked", geminitest.Scenario{Kind: geminitest.Finish, FinishReason: "IMAGE_SAFETY"}, frameforge.EContentBlocked},
		{"quota", geminitest.Scenario{Kind: geminitest.RateLimited}, frameforge.EUpstreamRateLimit},
		{"text, no image", geminitest.Scenario{Kind: geminitest.TextOnly}, frameforge.ENoImageReturned},
		{"answer that is not an image", geminitest.Scenario{Kind: geminitest.ImageOnly, Image: []byte("<html>nope</html>")}, frameforge.EUpstreamError},
		{"answer that is a pixel bomb", geminitest.Scenario{Kind: geminitest.ImageOnly, Image: bomb}, frameforge.EUpstreamError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, testCfg(), 2)
			r.fake.SetDefault(tt.sc)
			_, err := r.run(t, context.Background(), Input{Uploads: []Upload{photo(t)}})
			if got := frameforge.ErrorCode(err); got != tt.code {
				t.Errorf("code = %s (%v); want %s", got, err, tt.code)
			}
		})
	}
}

// A deadline that passes while the edit waits for a provider slot is the
// server being busy, not the provider being slow.
func TestDeadlineWhileWaitingForASlot(t *testing.T) {
	cfg := testCfg()
	cfg.SlotTimeout = time.Minute
	r := newRig(t, cfg, 1)
	busy, err := r.p.Admit()
	if err != nil {
		t.Fatal(err)
	}
	if err := busy.Acquire(context.Background()); err != nil { // the only provider slot
		t.Fatal(err)
	}
	defer busy.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = r.run(t, ctx, Input{Uploads: []Upload{photo(t)}})
	if code := frameforge.ErrorCode(err); code != frameforge.EOverloaded {
		t.Errorf("code = %s (%v); want overloaded", code, err)
	}
	if msg := frameforge.ErrorMessage(err); msg == "" || bytes.Contains([]byte(msg), []byte("provider did not")) {
		t.Errorf("message %q blames the provider", msg)
	}
	if n := len(r.fake.Requests()); n != 0 {
		t.Errorf("%d requests reached the provider; want none", n)
	}
}

// A photo whose decode alone needs more than the whole memory budget is
// refused, not queued forever.
func TestDecodeOverBudget(t *testing.T) {
	cfg := testCfg()
	cfg.DecodeMemory = 64 << 10
	r := newRig(t, cfg, 1)
	_, err := r.run(t, context.Background(), Input{Uploads: []Upload{photo(t)}})
	if code := frameforge.ErrorCode(err); code != frameforge.EImageTooComplex {
		t.Errorf("code = %s (%v); want image_too_complex", code, err)
	}
}

// The development fallback: no key anywhere, the first upload back.
func TestFallback(t *testing.T) {
	r := newRig(t, testCfg(), 1)
	r.route.Key = frameforge.Key{}
	u := photo(t)
	res, err := r.run(t, context.Background(), Input{Uploads: []Upload{u}})
	if err != nil || !res.Fallback || !bytes.Equal(res.Image.Data, u.Image.Data) {
		t.Errorf("fallback = %+v, %v; want the upload back", res.Fallback, err)
	}
	if n := len(r.fake.Requests()); n != 0 {
		t.Errorf("%d requests reached the provider; want none", n)
	}
}

func TestPrepareErrorCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		code string
	}{
		{fmt.Errorf("imaging: jpeg: %w: bad Huffman code", imaging.ErrCorrupt), frameforge.EInvalidImage},
		{fmt.Errorf("imaging: %w", imaging.ErrTruncated), frameforge.EInvalidImage},
		{fmt.Errorf("imaging: jpeg: %w: arithmetic coding", imaging.ErrUnsupported), frameforge.EUnsupportedImage},
		{fmt.Errorf("imaging: jpeg: 20000 scans: %w", imaging.ErrTooComplex), frameforge.EImageTooComplex},
		{fmt.Errorf("imaging: encode image/jpeg: %w", io.ErrShortWrite), frameforge.EInternal},
	} {
		up := Upload{Image: frameforge.Image{Filename: "a.jpg"}, Info: imaging.Info{ContentType: imaging.TypeJPEG}}
		if got := frameforge.ErrorCode(prepareError(c.err, up)); got != c.code {
			t.Errorf("prepareError(%v) = %s; want %s", c.err, got, c.code)
		}
	}
}

// pngHeaderClaiming is a complete, valid PNG container whose header claims
// w×h pixels with almost no data: what a hostile provider could answer.
func pngHeaderClaiming(t *testing.T, w, h uint32) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return b.Bytes()
}
