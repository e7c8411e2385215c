package clientaddr

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// Callers finds the client address of gRPC calls. A call's client is its
// peer, unless the peer is a trusted gateway: one of the networks given to
// NewCallers, or a connection opened by Dialer in this process (the gateway
// of a monolithic process, which reaches its own gRPC server over
// loopback). A trusted gateway's MetadataKey, when it holds exactly one
// address, names the client instead. Metadata from any other caller is
// ignored, so a direct gRPC caller cannot pick its own address.
type Callers struct {
	trusted []netip.Prefix

	mu    sync.Mutex
	local map[netip.AddrPort]int
}

// NewCallers trusts gateways in the networks trusted (none: only the
// connections of Dialer).
func NewCallers(trusted []netip.Prefix) *Callers {
	return &Callers{trusted: trusted, local: map[netip.AddrPort]int{}}
}

// Dialer returns a dialer for grpc.WithContextDialer whose connections
// this Callers trusts for as long as they are open: the server sees each
// one's local address as its peer. Give it only to the gateway's
// connections to the process's own server.
func (c *Callers) Dialer() func(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		local, ok := addrPort(conn.LocalAddr())
		if !ok {
			return conn, nil
		}
		c.mu.Lock()
		c.local[local]++
		c.mu.Unlock()
		return &trustedConn{Conn: conn, forget: func() {
			c.mu.Lock()
			if c.local[local]--; c.local[local] <= 0 {
				delete(c.local, local)
			}
			c.mu.Unlock()
		}}, nil
	}
}

// trustedConn forgets its address once closed.
type trustedConn struct {
	net.Conn
	once   sync.Once
	forget func()
}

func (t *trustedConn) Close() error {
	t.once.Do(t.forget)
	return t.Conn.Close()
}

func addrPort(a net.Addr) (netip.AddrPort, bool) {
	if tcp, ok := a.(*net.TCPAddr); ok {
		ap := tcp.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port()), ap.IsValid()
	}
	if a == nil {
		return netip.AddrPort{}, false
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port()), true
}

// trusts reports whether the peer ap is a trusted gateway.
func (c *Callers) trusts(ap netip.AddrPort) bool {
	if contains(c.trusted, ap.Addr()) {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.local[ap] > 0
}

// FromIncoming returns the client address of the call whose server context
// is ctx; invalid when the peer has no IP address (and no trusted gateway
// named one).
func (c *Callers) FromIncoming(ctx context.Context) netip.Addr {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return netip.Addr{}
	}
	ap, ok := addrPort(p.Addr)
	if !ok {
		return netip.Addr{}
	}
	if c.trusts(ap) {
		md, _ := metadata.FromIncomingContext(ctx)
		if v := md.Get(MetadataKey); len(v) == 1 {
			if a, err := netip.ParseAddr(strings.TrimSpace(v[0])); err == nil {
				return a.Unmap().WithZone("")
			}
		}
	}
	return ap.Addr()
}

// PeerAddr is the IP address of the call's peer, ignoring any metadata: the
// client address where no Callers interceptor ran.
func PeerAddr(ctx context.Context) netip.Addr {
	if p, ok := peer.FromContext(ctx); ok {
		if ap, ok := addrPort(p.Addr); ok {
			return ap.Addr()
		}
	}
	return netip.Addr{}
}

// UnaryInterceptor puts each call's client address (FromIncoming) in its
// context, for FromContext.
func (c *Callers) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if a := c.FromIncoming(ctx); a.IsValid() {
			ctx = NewContext(ctx, a)
		}
		return handler(ctx, req)
	}
}

// StreamInterceptor is UnaryInterceptor for streams.
func (c *Callers) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if a := c.FromIncoming(ss.Context()); a.IsValid() {
			ss = &streamWithContext{ServerStream: ss, ctx: NewContext(ss.Context(), a)}
		}
		return handler(srv, ss)
	}
}

type streamWithContext struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *streamWithContext) Context() context.Context { return s.ctx }
