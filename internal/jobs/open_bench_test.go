package jobs

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"frameforge/internal/metrics"
)

// BenchmarkOpenFreshSQLite is the job store's part of a first start-up: a
// new SQLite file, River's migrations and ours, the queue built
// (docs/performance.md, "Start-up").
func BenchmarkOpenFreshSQLite(b *testing.B) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		b.StartTimer()
		e, err := Open(context.Background(), "", dir, Config{Workers: 1, MaxAttempts: 1}, Deps{Log: log, Register: metrics.New(metrics.Gauges{}).Register})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = e.Stop(context.Background())
		b.StartTimer()
	}
}
