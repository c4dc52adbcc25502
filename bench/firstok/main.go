// Command firstok measures start-up: the time from exec of a server to its
// first 200 answer on a URL, over several runs, each in a fresh working
// directory (so FrameForge's SQLite database is created and migrated every
// time), or with -dir in one kept directory (a restart: the database is
// there). It prints one line per run and then the median, in milliseconds.
//
//	go run ./bench/firstok -n 11 -url http://127.0.0.1:19300/api/health -- env SERVER_PORT=19300 ./frameforge
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"
)

func main() {
	n := flag.Int("n", 11, "runs")
	url := flag.String("url", "", "URL that must answer 200")
	timeout := flag.Duration("timeout", 30*time.Second, "give up on a run after this long")
	keep := flag.String("dir", "", "run every time in this directory (created if missing) instead of a fresh one")
	flag.Parse()
	if *url == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: firstok -url URL [-n runs] -- command [args…]")
		os.Exit(2)
	}
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var ms []float64
	for i := range *n {
		d, err := once(client, *url, *timeout, *keep, flag.Args())
		if err != nil {
			fmt.Fprintf(os.Stderr, "firstok: run %d: %v\n", i+1, err)
			os.Exit(1)
		}
		ms = append(ms, float64(d.Microseconds())/1000)
		fmt.Printf("run %d: %.1f ms\n", i+1, ms[len(ms)-1])
	}
	slices.Sort(ms)
	med := ms[len(ms)/2]
	if len(ms)%2 == 0 {
		med = (ms[len(ms)/2-1] + ms[len(ms)/2]) / 2
	}
	fmt.Printf("median %.1f ms (min %.1f, max %.1f, %d runs)\n", med, ms[0], ms[len(ms)-1], len(ms))
}

// once starts the command in dir (a fresh directory when dir is ""), polls
// url every half millisecond until it answers 200, and stops the command
// again.
func once(client *http.Client, url string, timeout time.Duration, dir string, argv []string) (time.Duration, error) {
	if dir == "" {
		fresh, err := os.MkdirTemp("", "firstok-")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(fresh)
		dir = fresh
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so its workers stop with it
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}()
	for time.Since(start) < timeout {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
		}
		time.Sleep(500 * time.Microsecond)
	}
	return 0, fmt.Errorf("no 200 from %s within %v", url, timeout)
}
