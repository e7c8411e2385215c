package clientaddr

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
)

func mustPrefixes(t *testing.T, s string) []netip.Prefix {
	t.Helper()
	p, err := ParsePrefixes(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParsePrefixes(t *testing.T) {
	p, err := ParsePrefixes(" 10.0.0.0/8, 192.0.2.7 2001:db8::/32,::ffff:198.51.100.1")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32", "198.51.100.1/32"}
	if len(p) != len(want) {
		t.Fatalf("got %v, want %v", p, want)
	}
	for i := range want {
		if p[i].String() != want[i] {
			t.Errorf("prefix %d = %s, want %s", i, p[i], want[i])
		}
	}
	if _, err := ParsePrefixes("10.0.0.0/8, proxy.example.org"); err == nil {
		t.Error("a host name was taken as an address")
	}
	if p, err := ParsePrefixes(""); err != nil || p != nil {
		t.Errorf("empty list: %v %v", p, err)
	}
}

// A client that writes X-Forwarded-For gets nothing from it unless its
// connection comes from a trusted proxy, and then only the hops written by
// trusted proxies are skipped.
func TestFromRequest(t *testing.T) {
	proxies := NewProxies(mustPrefixes(t, "10.0.0.0/8, 2001:db8:1::/48"))
	cases := []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"no proxy, no header", "203.0.113.5:4000", nil, "203.0.113.5"},
		{"untrusted peer writes a header", "203.0.113.5:4000", []string{"198.51.100.9"}, "203.0.113.5"},
		{"trusted proxy, client hop", "10.1.2.3:80", []string{"203.0.113.5"}, "203.0.113.5"},
		{"client forges the left of the chain", "10.1.2.3:80", []string{"198.51.100.9, 203.0.113.5"}, "203.0.113.5"},
		{"two trusted proxies", "10.1.2.3:80", []string{"198.51.100.9, 203.0.113.5, 10.9.9.9"}, "203.0.113.5"},
		{"headers on several lines", "10.1.2.3:80", []string{"198.51.100.9", "203.0.113.5", "10.9.9.9"}, "203.0.113.5"},
		{"trusted proxy, no header", "10.1.2.3:80", nil, "10.1.2.3"},
		{"every hop trusted", "10.1.2.3:80", []string{"10.7.7.7, 10.8.8.8"}, "10.7.7.7"},
		{"garbage where the client was", "10.1.2.3:80", []string{"203.0.113.5, not-an-address"}, "10.1.2.3"},
		{"hop with a port", "10.1.2.3:80", []string{"203.0.113.5:5555"}, "203.0.113.5"},
		{"IPv6 hop", "[2001:db8:1::7]:443", []string{"[2001:db8:2::9]:1234"}, "2001:db8:2::9"},
		{"IPv4-mapped peer", "[::ffff:203.0.113.5]:4000", []string{"198.51.100.9"}, "203.0.113.5"},
	}
	for _, c := range cases {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = c.remote
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := proxies.FromRequest(r); got.String() != c.want {
			t.Errorf("%s: client %s, want %s", c.name, got, c.want)
		}
	}
	// No trusted proxy at all: the peer, always.
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.1.2.3:80"
	r.Header.Set("X-Forwarded-For", "203.0.113.5")
	if got := NewProxies(nil).FromRequest(r); got.String() != "10.1.2.3" {
		t.Errorf("no trusted proxies: client %s, want the peer", got)
	}
}

// The handler strips every forwarding header the client sent, including the
// Grpc-Metadata- headers grpc-gateway would forward as metadata, and puts
// its own finding in the context.
func TestHandlerStripsForwarding(t *testing.T) {
	var seen http.Header
	var addr netip.Addr
	h := NewProxies(nil).Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		addr, _ = FromContext(r.Context())
	}))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "203.0.113.5:4000"
	forged := map[string]string{
		"X-Forwarded-For": "198.51.100.1", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https",
		"Forwarded": "for=198.51.100.1", "X-Real-Ip": "198.51.100.1", "True-Client-Ip": "198.51.100.1",
		"Grpc-Metadata-X-Consulta-Client-Addr": "198.51.100.1", "grpc-metadata-x-forwarded-for": "198.51.100.1",
	}
	for k, v := range forged {
		r.Header.Set(k, v)
	}
	r.Header.Set("Authorization", "Bearer x")
	h.ServeHTTP(httptest.NewRecorder(), r)
	for k := range forged {
		if v := seen.Get(k); v != "" {
			t.Errorf("header %s reached the handler: %q", k, v)
		}
	}
	if seen.Get("Authorization") == "" {
		t.Error("an ordinary header was stripped")
	}
	if addr.String() != "203.0.113.5" {
		t.Errorf("address in the context %s, want the peer", addr)
	}
	md := OutgoingMetadata(NewContext(context.Background(), addr), nil)
	if v := md.Get(MetadataKey); len(v) != 1 || v[0] != "203.0.113.5" {
		t.Errorf("outgoing metadata %v", md)
	}
}

// grpcServer runs a health server that records the client address each
// call is given.
func grpcServer(t *testing.T, callers *Callers) (string, <-chan netip.Addr) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan netip.Addr, 16)
	record := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		a, _ := FromContext(ctx)
		seen <- a
		return handler(ctx, req)
	}
	s := grpc.NewServer(grpc.ChainUnaryInterceptor(callers.UnaryInterceptor(), record))
	healthpb.RegisterHealthServer(s, health.NewServer())
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	return ln.Addr().String(), seen
}

func call(t *testing.T, addr string, md metadata.MD, opts ...grpc.DialOption) {
	t.Helper()
	conn, err := grpc.NewClient(addr, append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := metadata.NewOutgoingContext(context.Background(), md)
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
}

// A direct gRPC caller that sets the client-address metadata (or
// x-forwarded-for) is still its peer address; the gateway's own connection
// (Dialer) and trusted gateway networks are believed.
func TestCallersTrustOnlyGateways(t *testing.T) {
	forged := metadata.Pairs(MetadataKey, "198.51.100.1", "x-forwarded-for", "198.51.100.2")

	callers := NewCallers(nil)
	addr, seen := grpcServer(t, callers)
	call(t, addr, forged)
	if a := <-seen; a.String() != "127.0.0.1" {
		t.Errorf("direct caller with forged metadata: client %s, want its peer 127.0.0.1", a)
	}
	call(t, addr, metadata.Pairs(MetadataKey, "203.0.113.5"), grpc.WithContextDialer(callers.Dialer()))
	if a := <-seen; a.String() != "203.0.113.5" {
		t.Errorf("the gateway's own connection: client %s, want 203.0.113.5", a)
	}
	// Two values (a client's and the gateway's) are not believed.
	call(t, addr, metadata.Pairs(MetadataKey, "198.51.100.1", MetadataKey, "203.0.113.5"), grpc.WithContextDialer(callers.Dialer()))
	if a := <-seen; a.String() != "127.0.0.1" {
		t.Errorf("two values: client %s, want the peer", a)
	}
	// Once the gateway's connection is closed, its address is forgotten.
	callers.mu.Lock()
	left := len(callers.local)
	callers.mu.Unlock()
	if left != 0 {
		t.Errorf("%d closed connections still trusted", left)
	}

	// A configured gateway network is trusted.
	gwAddr, gwSeen := grpcServer(t, NewCallers(mustPrefixes(t, "127.0.0.0/8")))
	call(t, gwAddr, metadata.Pairs(MetadataKey, "203.0.113.5"))
	if a := <-gwSeen; a.String() != "203.0.113.5" {
		t.Errorf("trusted gateway network: client %s, want 203.0.113.5", a)
	}
	call(t, gwAddr, metadata.Pairs(MetadataKey, "not an address"))
	if a := <-gwSeen; a.String() != "127.0.0.1" {
		t.Errorf("garbage from a trusted gateway: client %s, want the peer", a)
	}
}
