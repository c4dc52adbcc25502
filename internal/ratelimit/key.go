package ratelimit

import "net/netip"

// DefaultIPv6Prefix is how many leading bits of an IPv6 address name one
// client. A /64 is the smallest network a site is normally given (SLAAC
// needs it), and any host in one can pick addresses from all of it at will,
// so a /128 key would give such a client a fresh budget per address.
const DefaultIPv6Prefix = 64

// AddrKey is the bucket key of a client address. An IPv4 address is its own
// key. An IPv4-mapped IPv6 address is the IPv4 client it maps, so it shares
// that client's budget. Any other IPv6 address is keyed on its network of
// ipv6Prefix bits (0 means DefaultIPv6Prefix; beyond 0..128 is clamped), so
// every address of that network spends one budget.
func AddrKey(a netip.Addr, ipv6Prefix int) string {
	a = a.Unmap().WithZone("")
	if !a.Is6() {
		return a.String()
	}
	if ipv6Prefix == 0 {
		ipv6Prefix = DefaultIPv6Prefix
	}
	p, err := a.Prefix(min(max(ipv6Prefix, 0), 128))
	if err != nil {
		return a.String() // unreachable: a is a valid IPv6 address and the bits are in range
	}
	return p.String()
}
