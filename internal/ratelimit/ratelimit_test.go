package ratelimit

import (
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

func TestIdleClientsAreReclaimed(t *testing.T) {
	c := newClock()
	l := New(Rule{3, time.Minute}, c.now)
	for i := range 500 {
		l.Take(string(rune('a'+i%26)) + string(rune(i)))
	}
	if l.Len() != 500 {
		t.Fatalf("Len = %d; want 500", l.Len())
	}
	c.add(2 * time.Minute) // every bucket has refilled
	l.Take("newcomer")
	if l.Len() != 1 {
		t.Errorf("Len after idle period = %d; want 1 (idle buckets reclaimed)", l.Len())
	}
}
