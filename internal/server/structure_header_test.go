package server

import (
	"testing"

	"frameforge/internal/structure"
)

func TestStructureHeader(t *testing.T) {
	tests := []struct {
		rep  *structure.Report
		want string
	}{
		{nil, ""},
		{&structure.Report{Score: 0.1234, Regions: []structure.Region{}}, "ok; score=0.12"},
		{&structure.Report{Score: 0.834, Flagged: true, Regions: []structure.Region{{Kind: structure.WindowRemoved}, {Kind: structure.WallMoved}}},
			"flagged; score=0.83; regions=2"},
	}
	for _, tt := range tests {
		if got := structureHeader(tt.rep); got != tt.want {
			t.Errorf("structureHeader(%+v) = %q; want %q", tt.rep, got, tt.want)
		}
	}
}
