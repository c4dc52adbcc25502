package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"strconv"
	"time"
)

// healthcheckCommand asks the server configured here (SERVER_HOST,
// SERVER_PORT, from the same environment and env file) for GET /api/ready
// and succeeds only on 200. It is the container's HEALTHCHECK: the runtime
// image has no shell and no curl. A draining server answers 503, so it is
// reported unhealthy while it stops, which is what an orchestrator wants.
func healthcheckCommand(inv invocation) error {
	fs := subFlags("healthcheck")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if err := parseSub(fs, inv); err != nil {
		return err
	}
	cfg, err := inv.config()
	if err != nil {
		return err
	}
	if cfg.Port == 0 {
		return fmt.Errorf("healthcheck: SERVER_PORT is 0 (a free port chosen at start-up), so there is no known port to ask")
	}
	url := "http://" + net.JoinHostPort(probeHost(cfg.Host), strconv.Itoa(cfg.Port)) + "/api/ready"
	ctx, cancel := context.WithTimeout(inv.ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	// No proxy from the environment: this is a question to our own process.
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		var ue *neturl.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the repeated method and URL
		}
		return fmt.Errorf("healthcheck: %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %d: %s", url, resp.StatusCode, body)
	}
	_, err = fmt.Fprintf(inv.stdout, "ok: %s answered 200\n", url)
	return err
}

// probeHost is the address to reach a server listening on host: a wildcard
// listen address (all interfaces, as in a container) is reached on
// 127.0.0.1, which Go's wildcard listeners cover for IPv6 too (dual stack),
// also in containers that have no IPv6 loopback.
func probeHost(host string) string {
	switch host {
	case "", "0.0.0.0", "::", "[::]":
		return "127.0.0.1"
	}
	return host
}
