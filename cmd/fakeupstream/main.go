// Command fakeupstream serves a fake provider of the test suite on a real
// port, for load scripts and browser tests that run the real frameforge
// binary. It never calls out.
//
//	go run ./cmd/fakeupstream -addr 127.0.0.1:9100 -delay 5s          # Gemini: GEMINI_BASE_URL=http://127.0.0.1:9100/
//	go run ./cmd/fakeupstream -provider fal -key id:secret -delay 5s  # fal: FAL_QUEUE_URL and FAL_REST_URL=http://127.0.0.1:9100
//
// -answer-bytes makes every answer a noisy PNG of about that many bytes, the
// size of a real edited photo, instead of a tiny one (for memory runs):
//
//	go run ./cmd/fakeupstream -delay 5s -answer-bytes 2000000
//
// A prompt containing -slow-keyword is answered after -slow-delay instead, so
// a browser test can make one edit slow enough to cancel:
//
//	go run ./cmd/fakeupstream -addr 127.0.0.1:0 -slow-keyword slow-please -slow-delay 30s
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"frameforge/internal/provider/fal/faltest"
	"frameforge/internal/provider/gemini/geminitest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "fakeupstream:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:9100", "listen address")
	delay := flag.Duration("delay", 0, "time the fake model takes per edit")
	key := flag.String("key", geminitest.DefaultKey, "the one valid API key")
	which := flag.String("provider", "gemini", "gemini or fal")
	slowKeyword := flag.String("slow-keyword", "", "gemini: a prompt containing this text is answered after -slow-delay")
	slowDelay := flag.Duration("slow-delay", 30*time.Second, "gemini: time the fake model takes for a -slow-keyword prompt")
	answerBytes := flag.Int("answer-bytes", 0, "answer a noisy PNG of about this many bytes (0: a small picture)")
	flag.Parse()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	// Connections queue in the backlog while the answer is made.
	var answer []byte
	if *answerBytes > 0 {
		if answer, err = noisyPNG(*answerBytes); err != nil {
			return err
		}
	}
	base := "http://" + ln.Addr().String()
	var h http.Handler
	switch *which {
	case "gemini":
		opts := []geminitest.Option{geminitest.WithKey(*key), geminitest.NoRecord(),
			geminitest.WithDefault(geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: *delay, Image: answer})}
		if *slowKeyword != "" {
			opts = append(opts, geminitest.WithPromptScenario(*slowKeyword,
				geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: *slowDelay, Image: answer}))
		}
		fake := geminitest.New(opts...)
		fake.URL = base + "/"
		h = fake
		fmt.Printf("fake Gemini listening on %s (key %s, delay %s)\n", fake.URL, *key, *delay)
	case "fal":
		// The fal fake keeps what it receives (for tests' assertions): fine
		// for a load run, not for a long-lived service.
		fake := faltest.NewUnstarted()
		fake.URL, fake.Key = base, *key
		fake.Configure(func(b *faltest.Behavior) { b.RunTime, b.Output = *delay, answer })
		h = fake
		fmt.Printf("fake fal listening on %s (key %s, delay %s)\n", base, *key, *delay)
	default:
		return fmt.Errorf("unknown -provider %q", *which)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// noisyPNG returns a PNG of random pixels, which do not compress, of about
// n bytes.
func noisyPNG(n int) ([]byte, error) {
	side := max(1, int(math.Sqrt(float64(n)/3)))
	img := image.NewRGBA(image.Rect(0, 0, side, side))
	rng := rand.New(rand.NewPCG(7, 11))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.Uint32())
		if i%4 == 3 {
			img.Pix[i] = 0xFF
		}
	}
	var buf bytes.Buffer
	err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img)
	return buf.Bytes(), err
}
