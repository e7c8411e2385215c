// Package clientaddr finds the address a request came from without trusting
// what the client wrote. At the HTTP edge (the gateway) a forwarded address
// (X-Forwarded-For) counts only when the hop that wrote it is a configured
// proxy; the gateway then strips every forwarding header the client sent and
// passes its own finding to the gRPC services in the metadata key
// MetadataKey. A gRPC service reads that key only from callers it trusts:
// the gateway's own connections in the same process (Callers.Dialer) and
// configured gateway networks; for every other caller the client address is
// the connection's peer address, whatever metadata it sets.
package clientaddr

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// MetadataKey carries the client address from the gateway to the gRPC
// services. A service reads it only from trusted callers.
const MetadataKey = "x-consulta-client-addr"

// ParsePrefixes reads a list of networks and addresses separated by commas
// or white space ("10.0.0.0/8, 192.0.2.7, 2001:db8::/32"); a bare address is
// a network of one. An empty list is nil.
func ParsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not a network (CIDR) or an address: %w", f, err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a network (CIDR) or an address: %w", f, err)
		}
		a = a.Unmap().WithZone("")
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// contains reports whether a is in one of prefixes.
func contains(prefixes []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

type ctxKey struct{}

// NewContext returns ctx carrying the client address a.
func NewContext(ctx context.Context, a netip.Addr) context.Context {
	return context.WithValue(ctx, ctxKey{}, a)
}

// FromContext returns the client address NewContext put in ctx.
func FromContext(ctx context.Context) (netip.Addr, bool) {
	a, ok := ctx.Value(ctxKey{}).(netip.Addr)
	return a, ok && a.IsValid()
}

// parseHostPort reads "192.0.2.1", "192.0.2.1:80", "[2001:db8::1]:80" or
// "2001:db8::1" as an address, unmapped and without zone.
func parseHostPort(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}
