package clientaddr

import (
	"context"
	"net/http"
	"net/netip"
	"strings"

	"google.golang.org/grpc/metadata"
)

// Proxies finds the client address of HTTP requests, trusting
// X-Forwarded-For only as far as it was written by trusted proxies.
type Proxies struct {
	trusted []netip.Prefix
}

// NewProxies trusts the proxies in trusted (none: every request's client is
// its connection's peer).
func NewProxies(trusted []netip.Prefix) Proxies { return Proxies{trusted: trusted} }

// FromRequest returns the address r came from. When the connection's peer
// (r.RemoteAddr) is not a trusted proxy, it is the client, and any
// X-Forwarded-For is the client's own words. Otherwise the X-Forwarded-For
// hops are read from the right, the one the nearest proxy wrote first: each
// trusted proxy is skipped and the first hop that is not one is the client.
// A hop that is no address ends the walk, and the last address read (a
// trusted proxy that wrote the garbage) is the client; so is the leftmost
// hop when every hop is trusted. The result is invalid only when
// r.RemoteAddr is no address.
func (p Proxies) FromRequest(r *http.Request) netip.Addr {
	client, ok := parseHostPort(r.RemoteAddr)
	if !ok || !contains(p.trusted, client) {
		return client
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHostPort(hops[i])
		if !ok {
			break
		}
		client = a
		if !contains(p.trusted, a) {
			break
		}
	}
	return client
}

// forwardingHeaders are headers that name a client address or the request
// as a proxy saw it. The gateway drops them all: grpc-gateway would pass
// X-Forwarded-For and X-Forwarded-Host on as metadata, and nothing behind
// the gateway should read a client's claims about itself.
var forwardingHeaders = []string{"Forwarded", "X-Real-Ip", "X-Client-Ip", "True-Client-Ip", "Cf-Connecting-Ip"}

// isForwarding reports whether the canonical header key names a forwarding
// header, or a Grpc-Metadata- header that grpc-gateway would turn into
// forwarding metadata or into MetadataKey.
func isForwarding(key string) bool {
	k := strings.ToLower(key)
	if rest, ok := strings.CutPrefix(k, "grpc-metadata-"); ok {
		k = rest
		if strings.HasPrefix(k, "x-consulta-") {
			return true
		}
	}
	if strings.HasPrefix(k, "x-forwarded-") {
		return true
	}
	for _, h := range forwardingHeaders {
		if strings.EqualFold(k, h) {
			return true
		}
	}
	return false
}

// StripForwarding deletes from h every forwarding header (X-Forwarded-*,
// Forwarded, X-Real-Ip and the like) and every Grpc-Metadata- header that
// would become forwarding metadata or MetadataKey.
func StripForwarding(h http.Header) {
	for k := range h {
		if isForwarding(k) {
			delete(h, k)
		}
	}
}

// Handler finds the client address of each request (FromRequest), strips
// the forwarding headers (StripForwarding) and passes the request on to next
// with the address in its context (FromContext), for OutgoingMetadata.
func (p Proxies) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := p.FromRequest(r)
		StripForwarding(r.Header)
		if a.IsValid() {
			r = r.WithContext(NewContext(r.Context(), a))
		}
		next.ServeHTTP(w, r)
	})
}

// OutgoingMetadata is the metadata that passes the client address in ctx
// (put there by Handler) to a gRPC service: MetadataKey, or nothing.
// Its signature is what grpc-gateway's runtime.WithMetadata takes.
func OutgoingMetadata(ctx context.Context, _ *http.Request) metadata.MD {
	a, ok := FromContext(ctx)
	if !ok {
		return nil
	}
	return metadata.Pairs(MetadataKey, a.String())
}

// AppendToOutgoing returns ctx with the client address in ctx added to its
// outgoing gRPC metadata, for calls made outside grpc-gateway's routes.
func AppendToOutgoing(ctx context.Context) context.Context {
	a, ok := FromContext(ctx)
	if !ok {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, MetadataKey, a.String())
}
