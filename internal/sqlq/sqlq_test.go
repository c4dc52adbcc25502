package sqlq

import (
	"testing"
	"time"
)

func TestRebind(t *testing.T) {
	got := Rebind(`UPDATE t SET a = ? WHERE id = ? AND b IN (?, ?)`)
	if want := `UPDATE t SET a = $1 WHERE id = $2 AND b IN ($3, $4)`; got != want {
		t.Errorf("Rebind = %q; want %q", got, want)
	}
}

func TestMS(t *testing.T) {
	if MS(time.Time{}) != 0 || !FromMS(0).IsZero() {
		t.Error("the zero time is not 0 and back")
	}
	at := time.Date(2026, 11, 30, 16, 0, 0, 123e6, time.UTC)
	if got := FromMS(MS(at)); !got.Equal(at) {
		t.Errorf("round trip = %v; want %v", got, at)
	}
}
