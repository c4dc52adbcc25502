package config

import (
	"strings"
	"testing"
)

func TestRateLimitIPv6Prefix(t *testing.T) {
	tests := []struct {
		value   string
		want    int
		wantErr bool
	}{
		{"", 64, false},
		{"48", 48, false},
		{"32", 32, false},
		{"128", 128, false},
		{"31", 64, true}, // a /31 would put whole providers' customers in one budget
		{"129", 64, true},
		{"/64", 64, true},
	}
	for _, tt := range tests {
		c, err := Load(env(map[string]string{"RATE_LIMIT_IPV6_PREFIX": tt.value}))
		if tt.wantErr {
			if err == nil || !strings.HasPrefix(err.Error(), "RATE_LIMIT_IPV6_PREFIX:") {
				t.Errorf("Load(RATE_LIMIT_IPV6_PREFIX=%q) error = %v; want one naming the variable", tt.value, err)
			}
			continue
		}
		if err != nil || c.Server.RateLimitIPv6Prefix != tt.want {
			t.Errorf("Load(RATE_LIMIT_IPV6_PREFIX=%q) = %d, %v; want %d", tt.value, c.Server.RateLimitIPv6Prefix, err, tt.want)
		}
	}
}
