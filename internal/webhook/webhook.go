// Package webhook delivers signed notifications to URLs that clients give
// us, following Standard Webhooks (https://www.standardwebhooks.com/): the
// signing, the secret's format, the HTTP client that posts, and the policy
// that keeps that client away from our own network (SSRF). What is
// delivered, when, and how often it is retried is the job queue's business
// (internal/jobs, docs/jobs.md).
package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"frameforge/internal/secret"
)

// Config is how deliveries are made.
type Config struct {
	Secret       []byte          // the signing key (the decoded whsec_ secret)
	Schedule     []time.Duration // waits between attempts; its length + 1 is the number of attempts
	Timeout      time.Duration   // one attempt, connection to the end of the answer
	AllowPrivate bool            // allow http:// and targets on our own networks (development, tests)
}

// DefaultSchedule is the Standard Webhooks reference schedule: a day and a
// half of retries, so a receiver down for a night still gets its events.
var DefaultSchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	5 * time.Hour, 10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour}

// DefaultTimeout is how long a receiver has to answer one delivery.
const DefaultTimeout = 15 * time.Second

// maxResponse is how much of a receiver's answer is read (and discarded):
// enough to let the connection be reused, not enough to be a memory lever.
const maxResponse = 64 << 10

// ErrGone is a receiver that answered 410 Gone: it wants no more deliveries.
var ErrGone = errors.New("webhook: receiver answered 410 Gone")

// Client signs and posts deliveries. It is safe for concurrent use.
type Client struct {
	cfg  Config
	sign *standardwebhooks.Webhook
	http *http.Client
}

// New returns a client; zero Schedule and Timeout take the defaults.
func New(cfg Config) (*Client, error) {
	if len(cfg.Secret) == 0 {
		return nil, errors.New("webhook: no signing secret")
	}
	if cfg.Schedule == nil {
		cfg.Schedule = DefaultSchedule
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	sign, err := standardwebhooks.NewWebhookRaw(cfg.Secret)
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}
	if !cfg.AllowPrivate {
		// The check runs on the address actually being connected to, after
		// DNS: a name that resolved to a public address at submission and
		// to 127.0.0.1 now (DNS rebinding) is refused here.
		dialer.ControlContext = func(_ context.Context, network, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip := net.ParseIP(host)
			if ip == nil || Blocked(ip) {
				return &BlockedError{Addr: host}
			}
			return nil
		}
	}
	t := &http.Transport{
		// No proxy: through one, the dial check would see the proxy's
		// address, not the receiver's.
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: cfg.Timeout,
	}
	hc := &http.Client{
		Transport: t,
		// A redirect could lead anywhere, including where the first URL
		// was not allowed to: a 3xx is an answer, and not a 2xx.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Client{cfg: cfg, sign: sign, http: hc}, nil
}

// Schedule is the waits between attempts.
func (c *Client) Schedule() []time.Duration { return c.cfg.Schedule }

// Send posts one attempt of a delivery: body signed under msgID with the
// current time. It returns nil on a 2xx answer, ErrGone on 410, and another
// error for anything else (worth retrying).
func (c *Client) Send(ctx context.Context, target, msgID string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	now := time.Now()
	sig, err := c.sign.Sign(msgID, now, body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "FrameForge-Webhooks/1")
	req.Header.Set(standardwebhooks.HeaderWebhookID, msgID)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, sig)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusGone:
		return ErrGone
	}
	return &StatusError{Code: resp.StatusCode}
}

// StatusError is a receiver's answer other than 2xx and 410.
type StatusError struct{ Code int }

func (e *StatusError) Error() string { return fmt.Sprintf("webhook: receiver answered %d", e.Code) }

// BlockedError is a target on an address deliveries may not go to.
type BlockedError struct{ Addr string }

func (e *BlockedError) Error() string {
	return fmt.Sprintf("webhook: %s is a loopback, private, link-local or otherwise internal address", e.Addr)
}

// resolveTimeout bounds the DNS lookup of a submitted URL: the client is
// waiting for its 202.
const resolveTimeout = 3 * time.Second

// CheckURL returns the target in canonical form, or why it is refused: not
// an absolute https:// URL without credentials (http:// too when private
// targets are allowed), or a host that resolves to an internal address.
// A name that does not exist is refused; a lookup that fails otherwise
// (timeout, resolver down) is not, since the connect-time check still
// guards each delivery.
func (c *Client) CheckURL(ctx context.Context, raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || len(raw) > 2048 || u.Hostname() == "" ||
		!(u.Scheme == "https" || (u.Scheme == "http" && c.cfg.AllowPrivate)) {
		return "", errForm
	}
	if c.cfg.AllowPrivate {
		return u.String(), nil
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); ip != nil {
		if Blocked(ip) {
			return "", &BlockedError{Addr: host}
		}
		return u.String(), nil
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return "", fmt.Errorf("webhook: %s does not resolve", host)
	}
	for _, a := range addrs {
		if Blocked(a.IP) {
			return "", &BlockedError{Addr: host + " (" + a.IP.String() + ")"}
		}
	}
	return u.String(), nil
}

var errForm = errors.New("webhook: not an absolute https:// URL without credentials")

// IsFormError reports whether CheckURL refused the URL's form (rather than
// its address).
func IsFormError(err error) bool { return errors.Is(err, errForm) }

// blockedNets are the ranges beyond what net.IP's own predicates name.
var blockedNets = func() []*net.IPNet {
	var out []*net.IPNet
	for _, s := range []string{
		"0.0.0.0/8",     // "this network"
		"100.64.0.0/10", // carrier-grade NAT (RFC 6598): a provider's internal network
		"192.0.0.0/24",  // IETF protocol assignments
		"198.18.0.0/15", // benchmarking
		"240.0.0.0/4",   // reserved, and broadcast
		"64:ff9b::/96",  // NAT64: would reach any IPv4 address, internal ones included
	} {
		_, n, _ := net.ParseCIDR(s)
		out = append(out, n)
	}
	return out
}()

// Blocked reports whether deliveries may not go to ip: loopback, private
// (RFC 1918, fc00::/7 unique-local), link-local (169.254.0.0/16, where the
// cloud metadata services answer, fe80::/10), carrier-grade NAT,
// unspecified, multicast and reserved addresses. fd00:ec2::254 (AWS
// metadata over IPv6) is unique-local.
func Blocked(ip net.IP) bool {
	if v4 := ip.To4(); v4 != nil {
		ip = v4 // ::ffff:127.0.0.1 is 127.0.0.1
	}
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return true
	}
	for _, n := range blockedNets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// secretPrefix marks a Standard Webhooks secret.
const secretPrefix = "whsec_"

// secretFile is the generated secret's file in DATA_DIR.
const secretFile = "webhook_secret"

// LoadSecret returns the signing key: WEBHOOK_SECRET (value) when set,
// "whsec_" and base64 of 24 to 64 bytes as the specification says; else the
// key generated once into dataDir (internal/secret's file: 32 random bytes,
// mode 0600, shared by processes starting at once).
func LoadSecret(value, dataDir string) ([]byte, error) {
	if value == "" {
		return secret.Load("", dataDir, secretFile)
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(strings.TrimSpace(value), secretPrefix))
	if err != nil || !strings.HasPrefix(value, secretPrefix) || len(b) < 24 || len(b) > 64 {
		return nil, errors.New("WEBHOOK_SECRET: must be whsec_ followed by the base64 of 24 to 64 bytes")
	}
	return b, nil
}

// FormatSecret is the key as receivers configure it: "whsec_" + base64.
func FormatSecret(key []byte) string { return secretPrefix + base64.StdEncoding.EncodeToString(key) }

// NewSecret returns a fresh random key (for tests and tools).
func NewSecret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}
