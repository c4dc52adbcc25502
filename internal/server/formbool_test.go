package server

import (
	"testing"

	"frameforge"
)

// One reading of a boolean field for fallback, disclosure and declutter: a
// value that is neither true nor false is a 400 naming the field, never
// quietly false.
func TestFormBool(t *testing.T) {
	for _, c := range []struct {
		v          string
		value, set bool
		bad        bool
	}{
		{"", false, false, false}, {" TRUE ", true, true, false}, {"on", true, true, false}, {"1", true, true, false},
		{"No", false, true, false}, {"0", false, true, false}, {"off", false, true, false}, {"maybe", false, false, true},
	} {
		value, set, err := formBool("declutter", c.v)
		if value != c.value || set != c.set || (err != nil) != c.bad {
			t.Errorf("formBool(%q) = %v, %v, %v", c.v, value, set, err)
		}
		if c.bad && frameforge.ErrorCode(err) != frameforge.EInvalidRequest {
			t.Errorf("formBool(%q): code %q; want invalid_request", c.v, frameforge.ErrorCode(err))
		}
	}
}
