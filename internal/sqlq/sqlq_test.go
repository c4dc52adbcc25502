package sqlq

import "testing"

func TestRebind(t *testing.T) {
	got := Rebind(`UPDATE t SET a = ? WHERE id = ? AND b IN (?, ?)`)
	if want := `UPDATE t SET a = $1 WHERE id = $2 AND b IN ($3, $4)`; got != want {
		t.Errorf("Rebind = %q; want %q", got, want)
	}
}
