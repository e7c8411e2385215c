package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// StartTLS says whether a plain smtp:// connection is upgraded with STARTTLS.
type StartTLS string

// The STARTTLS policies of an smtp:// URL (?starttls=...).
const (
	// StartTLSOpportunistic upgrades when the server offers it (the default).
	StartTLSOpportunistic StartTLS = "opportunistic"
	// StartTLSRequired fails when the server does not offer it.
	StartTLSRequired StartTLS = "required"
	// StartTLSNone never upgrades (a relay on the same host).
	StartTLSNone StartTLS = "none"
)

// Endpoint is a parsed SMTP URL.
type Endpoint struct {
	Host string
	Port int
	// Implicit is TLS from the first byte (smtps://, port 465 by default).
	Implicit bool
	// StartTLS applies to smtp:// only.
	StartTLS StartTLS
	// User and Password authenticate when User is set.
	User, Password string
}

// ParseURL reads smtp://[user:password@]host[:port][?starttls=required|
// opportunistic|none] (port 587 by default) or smtps://[user:password@]
// host[:port] (implicit TLS, port 465 by default). The error never quotes
// the URL: it may hold a password.
func ParseURL(raw string) (Endpoint, error) {
	const want = "want smtp://[user:password@]host[:port][?starttls=required|opportunistic|none] or smtps://[user:password@]host[:port]"
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" || u.Path != "" && u.Path != "/" {
		return Endpoint{}, fmt.Errorf("SMTP URL: %s", want)
	}
	e := Endpoint{Host: u.Hostname(), StartTLS: StartTLSOpportunistic}
	switch u.Scheme {
	case "smtp":
		e.Port = 587
	case "smtps":
		e.Port, e.Implicit = 465, true
	default:
		return Endpoint{}, fmt.Errorf("SMTP URL: scheme %q: %s", u.Scheme, want)
	}
	if p := u.Port(); p != "" {
		if e.Port, err = strconv.Atoi(p); err != nil || e.Port < 1 || e.Port > 65535 {
			return Endpoint{}, fmt.Errorf("SMTP URL: port %q: want 1 to 65535", p)
		}
	}
	q := u.Query()
	for k := range q {
		if k != "starttls" {
			return Endpoint{}, fmt.Errorf("SMTP URL: unknown option %q: %s", k, want)
		}
	}
	if v := q.Get("starttls"); v != "" {
		switch StartTLS(v) {
		case StartTLSOpportunistic, StartTLSRequired, StartTLSNone:
			e.StartTLS = StartTLS(v)
		default:
			return Endpoint{}, fmt.Errorf("SMTP URL: starttls=%q: want required, opportunistic or none", v)
		}
		if e.Implicit {
			return Endpoint{}, errors.New("SMTP URL: starttls: only for smtp:// (smtps:// is TLS from the start)")
		}
	}
	if u.User != nil {
		e.User = u.User.Username()
		e.Password, _ = u.User.Password()
	}
	return e, nil
}

// SMTPConfig says where and as whom mail leaves.
type SMTPConfig struct {
	// URL is the server (see ParseURL).
	URL string
	// From is the sender, an address with an optional display name.
	From string
	// Domain is the right-hand side of generated Message-IDs; empty means
	// the domain of From.
	Domain string
	// Timeout bounds each exchange with the server when the caller's
	// context has no earlier deadline (default 30s).
	Timeout time.Duration
	// TLS is the TLS configuration (nil: the system's roots, the URL's host
	// as server name).
	TLS *tls.Config
}

// SMTP is the Sender that delivers through an SMTP server. Each Send opens
// its own connection: mail goes out one message at a time from a queue,
// and no connection is kept between.
type SMTP struct {
	ep      Endpoint
	from    string
	domain  string
	timeout time.Duration
	tls     *tls.Config
}

var _ Sender = (*SMTP)(nil)

// NewSMTP checks cfg and returns its Sender.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	ep, err := ParseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	from, err := netmail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("mail from %q: not an address", cfg.From)
	}
	s := &SMTP{ep: ep, from: from.String(), domain: cfg.Domain, timeout: cfg.Timeout, tls: cfg.TLS}
	if s.domain == "" {
		s.domain = DomainOf(from.Address)
	}
	if s.timeout <= 0 {
		s.timeout = 30 * time.Second
	}
	if s.tls == nil {
		s.tls = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if s.tls.ServerName == "" {
		s.tls = s.tls.Clone()
		s.tls.ServerName = ep.Host
	}
	return s, nil
}

// Send delivers m. Everything, from the dial to the server's answer to the
// message, ends when ctx does: the connection is closed then, whatever
// exchange it is in.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg, err := s.compose(m)
	if err != nil {
		return err
	}
	timeout, ctxBound := s.timeout, false
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout, ctxBound = time.Until(dl), true
	}
	if timeout <= 0 || ctx.Err() != nil {
		return fmt.Errorf("smtp send: %w", context.Cause(ctx))
	}
	var (
		mu    sync.Mutex
		stops []func() bool
	)
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, stop := range stops {
			stop()
		}
	}()
	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		var err error
		if s.ep.Implicit {
			conn, err = (&tls.Dialer{Config: s.tls}).DialContext(dctx, network, addr)
		} else {
			conn, err = (&net.Dialer{}).DialContext(dctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		// go-mail bounds each exchange by its timeout; closing the
		// connection when ctx ends also stops one in progress (shutdown).
		mu.Lock()
		stops = append(stops, context.AfterFunc(ctx, func() { _ = conn.Close() }))
		mu.Unlock()
		return conn, nil
	}
	policy := gomail.TLSOpportunistic
	switch {
	case s.ep.Implicit:
		// Already TLS: opportunistic finds no STARTTLS to take, and
		// go-mail sees the connection as encrypted.
	case s.ep.StartTLS == StartTLSRequired:
		policy = gomail.TLSMandatory
	case s.ep.StartTLS == StartTLSNone:
		policy = gomail.NoTLS
	}
	opts := []gomail.Option{
		gomail.WithPort(s.ep.Port), gomail.WithTimeout(timeout), gomail.WithTLSPolicy(policy),
		gomail.WithTLSConfig(s.tls), gomail.WithDialContextFunc(dial),
	}
	if s.ep.User != "" {
		// Auto-discovery takes the strongest mechanism offered, and never a
		// clear-text one (PLAIN, LOGIN) over an unencrypted connection.
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.ep.User), gomail.WithPassword(s.ep.Password))
	}
	c, err := gomail.NewClient(s.ep.Host, opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		var ne net.Error
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("smtp %s:%d: %w (%v)", s.ep.Host, s.ep.Port, context.Cause(ctx), err)
		case ctxBound && errors.As(err, &ne) && ne.Timeout():
			// go-mail's own deadline, set to ctx's, came a moment first.
			return fmt.Errorf("smtp %s:%d: %w (%v)", s.ep.Host, s.ep.Port, context.DeadlineExceeded, err)
		}
		return fmt.Errorf("smtp %s:%d: %w", s.ep.Host, s.ep.Port, err)
	}
	return nil
}

// compose turns m into go-mail's message.
func (s *SMTP) compose(m Message) (*gomail.Msg, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(s.from); err != nil {
		return nil, fmt.Errorf("mail from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("%w: to: %v", ErrInvalid, err)
	}
	msg.Subject(m.Subject)
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}
	msg.SetDateWithValue(date)
	id := m.MessageID
	if id == "" {
		id = NewMessageID(s.domain)
	}
	msg.SetMessageIDWithValue(id)
	if len(m.ListUnsubscribe) > 0 {
		// Validate kept these to ASCII URLs without brackets or commas.
		msg.SetGenHeaderPreformatted(gomail.HeaderListUnsubscribe, "<"+strings.Join(m.ListUnsubscribe, ">, <")+">")
	}
	if m.OneClick {
		msg.SetGenHeaderPreformatted(gomail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
	}
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}
