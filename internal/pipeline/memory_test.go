package pipeline

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"frameforge/internal/admission"
	"frameforge/internal/imaging/imagingtest"
	"frameforge/internal/metrics"
	"frameforge/internal/provider"
	"frameforge/internal/provider/fal"
	"frameforge/internal/provider/fal/faltest"
)

// An edit's upload is not held while the provider works on it. The photo
// here is prepared in place (a small upright JPEG: its metadata stripped
// inside the upload's own buffer), so the image sent is the upload buffer;
// once fal has it and its job runs, nothing of ours may keep that buffer,
// neither the fallback walk nor the structure check (which reduces its
// copy while the job runs). At 200 edits in flight an upload held through
// the call was 350 MiB of the server's memory (docs/performance.md).
func TestUploadIsLetGoWhileTheProviderWorks(t *testing.T) {
	for _, check := range []bool{false, true} {
		name := map[bool]string{false: "structure check off", true: "structure check on"}[check]
		t.Run(name, func(t *testing.T) {
			f := faltest.New(t)
			f.Configure(func(b *faltest.Behavior) {
				b.RunTime = 3 * time.Second
				b.Output = imagingtest.JPEG(t, imagingtest.Photo(t, 320, 240), 90)
			})
			fcfg := fal.NewDefaultConfig()
			fcfg.QueueURL, fcfg.RestURL = f.URL, f.URL
			fcfg.PollInitial = 20 * time.Millisecond
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			reg := provider.NewRegistry(provider.Entry{Spec: provider.Fal(), Provider: fal.New(fcfg, f.Client(), log), ServerKey: f.Key})
			route, err := reg.Resolve("fal:fal-ai/nano-banana/edit", nil)
			if err != nil {
				t.Fatal(err)
			}
			cfg := testCfg()
			cfg.Structure = StructureConfig{On: check}
			gate := admission.New(2, 4, cfg.SlotTimeout)
			p := New(cfg, gate, metrics.New(metrics.Gauges{EditsRunning: gate.Running, EditsWaiting: gate.Waiting}), log)

			var freed atomic.Bool
			errc := make(chan error, 1)
			go func() {
				tk, err := p.Admit()
				if err != nil {
					errc <- err
					return
				}
				defer tk.Release()
				res, err := p.Run(context.Background(), tk, Input{Uploads: []Upload{watchedUpload(t, &freed)}, Route: route})
				if err == nil && check && res.Structure == nil {
					t.Error("no structure report: the check did not run")
				}
				errc <- err
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := f.Wait(ctx, func() bool { return len(f.Submits()) > 0 }); err != nil {
				t.Fatal("the job never reached fal:", err)
			}
			for deadline := time.Now().Add(2 * time.Second); !freed.Load() && time.Now().Before(deadline); {
				runtime.GC()
				time.Sleep(10 * time.Millisecond)
			}
			select {
			case err := <-errc:
				t.Fatalf("the edit ended (%v) before the check: make fal's job longer", err)
			default:
			}
			if !freed.Load() {
				t.Error("the upload buffer is still held while fal runs the job")
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// watchedUpload is an upright photo whose buffer sets freed once the
// garbage collector has reclaimed it. Made here, so that no variable of the
// test holds it.
func watchedUpload(t *testing.T, freed *atomic.Bool) Upload {
	data := imagingtest.JPEG(t, imagingtest.Photo(t, 320, 240), 90)
	buf := make([]byte, len(data))
	copy(buf, data)
	runtime.AddCleanup(&buf[0], func(f *atomic.Bool) { f.Store(true) }, freed)
	u, err := CheckImage(buf, "room.jpg", 40_000_000)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
