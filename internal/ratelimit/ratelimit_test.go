package ratelimit

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"testing"
	"time"
)

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)} }

func TestParseRule(t *testing.T) {
	tests := []struct {
		in   string
		want Rule
		ok   bool
	}{
		{"100/h", Rule{100, time.Hour}, true},
		{"3/m", Rule{3, time.Minute}, true},
		{"10/s", Rule{10, time.Second}, true},
		{"1000/d", Rule{1000, 24 * time.Hour}, true},
		{"5/30s", Rule{5, 30 * time.Second}, true},
		{" OFF ", Rule{}, true},
		{"100", Rule{}, false},
		{"x/h", Rule{}, false},
		{"-1/h", Rule{}, false},
		{"3/fortnight", Rule{}, false},
	}
	for _, tt := range tests {
		got, err := ParseRule(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseRule(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestTakeBudgetRetryAndReset(t *testing.T) {
	c := newClock()
	l := New(Rule{3, time.Minute}, c.now)
	for i := 3; i > 0; i-- {
		d := l.Take("a")
		if !d.Allowed || d.Remaining != i-1 || d.Limit != 3 {
			t.Fatalf("take %d = %+v; want allowed with %d remaining", 4-i, d, i-1)
		}
	}
	d := l.Take("a")
	if d.Allowed || d.RetryAfter != 20*time.Second || d.Remaining != 0 || d.Reset != time.Minute {
		t.Fatalf("4th take = %+v; want refused, retry after 20s, reset 1m", d)
	}
	if !l.Take("b").Allowed {
		t.Fatal("another client shares the first one's budget")
	}
	c.add(20 * time.Second)
	if d := l.Take("a"); !d.Allowed {
		t.Fatalf("after 20s = %+v; want one request allowed", d)
	}
}

func TestOffAllowsEverything(t *testing.T) {
	l := New(Rule{}, newClock().now)
	for range 1000 {
		if !l.Take("a").Allowed {
			t.Fatal("refused with the rule off")
		}
	}
	if l.Len() != 0 {
		t.Error("kept buckets with the rule off")
	}
}

func TestIdleClientsAreReclaimedBitByBit(t *testing.T) {
	c := newClock()
	l := New(Rule{3, time.Minute}, c.now)
	for i := range 500 {
		l.Take("client" + strconv.Itoa(i))
	}
	if l.Len() != 500 {
		t.Fatalf("Len = %d; want 500", l.Len())
	}
	c.add(2 * time.Minute) // every bucket has refilled
	l.Take("newcomer")
	// One Take does a bounded share of the reclaiming, never a sweep of the
	// whole table, so no request pays for everyone's idle buckets.
	if n := l.Len(); n < 500+1-reclaimPerTake {
		t.Fatalf("Len after one Take = %d; want at least %d (at most %d buckets reclaimed per Take)", n, 501-reclaimPerTake, reclaimPerTake)
	}
	for range 500 {
		l.Take("newcomer")
	}
	if l.Len() != 1 {
		t.Errorf("Len after 500 more Takes = %d; want 1 (idle buckets reclaimed)", l.Len())
	}
}

func TestBucketsAreBounded(t *testing.T) {
	c := newClock()
	const maxClients = 1000
	l := New(Rule{100, time.Hour}, c.now, WithMaxClients(maxClients))
	n := 1_000_000
	if testing.Short() || raceEnabled {
		n = 100_000 // still a hundred times the bound
	}
	key := make([]byte, 0, 16)
	for i := range n {
		key = strconv.AppendInt(key[:0], int64(i), 36)
		if !l.Take(string(key)).Allowed {
			t.Fatalf("new client %d refused", i)
		}
		if i%997 == 0 && l.Len() > maxClients {
			t.Fatalf("after %d clients Len = %d; want at most %d", i+1, l.Len(), maxClients)
		}
	}
	if l.Len() != maxClients {
		t.Errorf("Len = %d; want %d", l.Len(), maxClients)
	}
}

func TestFloodCannotResetADrainedClient(t *testing.T) {
	c := newClock()
	l := New(Rule{3, time.Minute}, c.now, WithMaxClients(100))
	for range 3 {
		l.Take("drained")
	}
	// A flood of distinct keys, each one request in, fills the table many
	// times over. Least-recently-used eviction would push "drained" out and
	// hand it a fresh budget; the flood must evict its own buckets instead.
	for i := range 10_000 {
		c.add(time.Millisecond)
		l.Take("flood" + strconv.Itoa(i))
	}
	if l.Len() > 100 {
		t.Fatalf("Len = %d; want at most 100", l.Len())
	}
	if d := l.Take("drained"); d.Allowed {
		t.Errorf("drained client after the flood = %+v; want still refused", d)
	}
}

func TestEvictionPrefersRefilledBuckets(t *testing.T) {
	c := newClock()
	l := New(Rule{3, time.Minute}, c.now, WithMaxClients(3))
	l.Take("idle") // full again 20s later
	for range 3 {
		l.Take("busy") // empty; full again 60s later
	}
	c.add(25 * time.Second) // "idle" has refilled, "busy" has 1.25 requests
	for _, k := range []string{"x", "y", "z"} {
		l.Take(k)
		if l.Len() > 3 {
			t.Fatalf("Len = %d; want at most 3", l.Len())
		}
	}
	// "idle" went first (it lost nothing), then a bucket nearer to full
	// than "busy": "busy" keeps its own, with one request left, not a fresh
	// three.
	if d := l.Take("busy"); !d.Allowed || d.Remaining != 0 {
		t.Errorf("busy after the evictions = %+v; want allowed with 0 remaining (its own bucket kept)", d)
	}
}

func TestAddrKey(t *testing.T) {
	tests := []struct {
		addr   string
		prefix int
		want   string
	}{
		{"192.0.2.7", 64, "192.0.2.7"},
		{"::ffff:192.0.2.7", 64, "192.0.2.7"}, // IPv4-mapped: the IPv4 client
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64, "2001:db8:1:2::/64"},
		{"2001:db8:1:2::1", 0, "2001:db8:1:2::/64"}, // 0: the default /64
		{"2001:db8:1:2:aaaa::1", 48, "2001:db8:1::/48"},
		{"2001:db8:1:2::1", 128, "2001:db8:1:2::1/128"},
		{"fe80::1%eth0", 64, "fe80::/64"},
	}
	for _, tt := range tests {
		if got := AddrKey(netip.MustParseAddr(tt.addr), tt.prefix); got != tt.want {
			t.Errorf("AddrKey(%s, %d) = %q; want %q", tt.addr, tt.prefix, got, tt.want)
		}
	}
}

func TestRotatingAddressesInOneNetworkShareABudget(t *testing.T) {
	l := New(Rule{5, time.Minute}, newClock().now)
	base := netip.MustParseAddr("2001:db8:aa:bb::").As16()
	allowed := 0
	for i := range 1000 {
		a := base
		binary.BigEndian.PutUint64(a[8:], uint64(i)*0x9e3779b97f4a7c15) // spread over the interface id
		if l.Take(AddrKey(netip.AddrFrom16(a), DefaultIPv6Prefix)).Allowed {
			allowed++
		}
	}
	if allowed != 5 {
		t.Errorf("1000 addresses of one /64 got %d requests through; want 5 (one budget)", allowed)
	}
	// Another /64, even a neighbouring one, is another client.
	if !l.Take(AddrKey(netip.MustParseAddr("2001:db8:aa:bc::1"), DefaultIPv6Prefix)).Allowed {
		t.Error("a client in another /64 shares the first one's budget")
	}
}
