// Command fakeupstream serves the fake Gemini API of the test suite on a real
// port, for load scripts and browser tests that run the real frameforge
// binary: point GEMINI_BASE_URL at it and use its key. It never calls out.
//
//	go run ./cmd/fakeupstream -addr 127.0.0.1:9100 -delay 5s
//
// A prompt containing -slow-keyword is answered after -slow-delay instead, so
// a browser test can make one edit slow enough to cancel:
//
//	go run ./cmd/fakeupstream -addr 127.0.0.1:0 -slow-keyword slow-please -slow-delay 30s
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

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
	slowKeyword := flag.String("slow-keyword", "", "a prompt containing this text is answered after -slow-delay")
	slowDelay := flag.Duration("slow-delay", 30*time.Second, "time the fake model takes for a -slow-keyword prompt")
	flag.Parse()

	opts := []geminitest.Option{geminitest.WithKey(*key), geminitest.NoRecord(),
		geminitest.WithDefault(geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: *delay})}
	if *slowKeyword != "" {
		opts = append(opts, geminitest.WithPromptScenario(*slowKeyword,
			geminitest.Scenario{Kind: geminitest.ImageOnly, Delay: *slowDelay}))
	}
	fake := geminitest.New(opts...)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fake.URL = "http://" + ln.Addr().String() + "/"
	fmt.Printf("fake Gemini listening on %s (key %s, delay %s)\n", fake.URL, *key, *delay)
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}
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
