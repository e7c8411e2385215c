package mail_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/consulta-platform/consulta/pkg/mail"
)

// received is one message a test server took.
type received struct {
	from string
	to   []string
	data []byte
	tls  bool
	user string
}

// server is an in-process SMTP server (go-smtp) that records what it
// receives.
type server struct {
	addr string
	got  chan received
}

type serverOptions struct {
	tls      *tls.Config // offered as STARTTLS, or from the start with implicit
	implicit bool
	// user and password, when set, are required before MAIL.
	user, password string
}

func startServer(t *testing.T, o serverOptions) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{addr: ln.Addr().String(), got: make(chan received, 100)}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, o: o, conn: c}, nil
	}))
	srv.Domain = "test.example"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	if o.tls != nil {
		srv.TLSConfig = o.tls
		if o.implicit {
			ln = tls.NewListener(ln, o.tls)
		}
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return s
}

type session struct {
	s    *server
	o    serverOptions
	conn *smtp.Conn
	msg  received
}

func (x *session) AuthMechanisms() []string {
	if x.o.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (x *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, password string) error {
		if user != x.o.user || password != x.o.password {
			return smtp.ErrAuthFailed
		}
		x.msg.user = user
		return nil
	}), nil
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if x.o.user != "" && x.msg.user == "" {
		return smtp.ErrAuthRequired
	}
	x.msg.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.msg.to = append(x.msg.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, x.msg.tls = x.conn.TLSConnectionState()
	m := x.msg
	m.data = b
	x.s.got <- m
	return nil
}

func (x *session) Reset()        { x.msg = received{user: x.msg.user} }
func (x *session) Logout() error { return nil }

func (s *server) next(t *testing.T) received {
	t.Helper()
	select {
	case r := <-s.got:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no message arrived")
		return received{}
	}
}

func newSender(t *testing.T, cfg mail.SMTPConfig) *mail.SMTP {
	t.Helper()
	if cfg.From == "" {
		cfg.From = "Consulta <consulta@consulta.example.org>"
	}
	s, err := mail.NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// parts reads the text and HTML of a multipart/alternative message, or
// the single text part of another.
func parts(t *testing.T, m *netmail.Message) (text, html string) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		b, _ := io.ReadAll(m.Body)
		return string(b), ""
	}
	if mt != "multipart/alternative" {
		t.Errorf("Content-Type %s, want multipart/alternative", mt)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			return text, html
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch pt {
		case "text/plain":
			text = string(b)
		case "text/html":
			html = string(b)
		default:
			t.Errorf("unexpected part %s", pt)
		}
	}
}

// TestSendWritesHeadersAndParts: a notification arrives with Date,
// Message-ID at the sender's domain, From, To, an encoded non-ASCII
// Subject, List-Unsubscribe and the one-click List-Unsubscribe-Post, and
// its text and HTML as alternatives.
func TestSendWritesHeadersAndParts(t *testing.T) {
	srv := startServer(t, serverOptions{})
	s := newSender(t, mail.SMTPConfig{URL: "smtp://" + srv.addr, Domain: "consulta.example.org"})
	before := time.Now().Add(-time.Second)
	text := "Hola Ana,\n\nhay 3 nuevas contribuciones: https://consulta.example.org/c/1?x=1&y=2\n"
	err := s.Send(context.Background(), mail.Message{
		To: "ana@example.net", Subject: "Resumen semanal: participación", Text: text, HTML: mail.HTMLFromText(text),
		ListUnsubscribe: []string{"https://consulta.example.org/unsubscribe?t=abc", "mailto:unsubscribe@consulta.example.org"},
		OneClick:        true,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := srv.next(t)
	if r.from != "consulta@consulta.example.org" || len(r.to) != 1 || r.to[0] != "ana@example.net" {
		t.Errorf("envelope from %q to %v", r.from, r.to)
	}
	m, err := netmail.ReadMessage(strings.NewReader(string(r.data)))
	if err != nil {
		t.Fatal(err)
	}
	date, err := m.Header.Date()
	if err != nil || date.Before(before) || date.After(time.Now().Add(time.Second)) {
		t.Errorf("Date %q (%v): want the time of sending", m.Header.Get("Date"), err)
	}
	id := m.Header.Get("Message-ID")
	if !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@consulta.example.org>") || len(id) < 20 {
		t.Errorf("Message-ID %q: want <random@consulta.example.org>", id)
	}
	if from, err := m.Header.AddressList("From"); err != nil || len(from) != 1 ||
		from[0].Address != "consulta@consulta.example.org" || from[0].Name != "Consulta" {
		t.Errorf("From %q", m.Header.Get("From"))
	}
	if to, err := m.Header.AddressList("To"); err != nil || len(to) != 1 || to[0].Address != "ana@example.net" {
		t.Errorf("To %q", m.Header.Get("To"))
	}
	if subj, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); err != nil || subj != "Resumen semanal: participación" {
		t.Errorf("Subject %q decodes to %q (%v)", m.Header.Get("Subject"), subj, err)
	}
	if got, want := m.Header.Get("List-Unsubscribe"),
		"<https://consulta.example.org/unsubscribe?t=abc>, <mailto:unsubscribe@consulta.example.org>"; got != want {
		t.Errorf("List-Unsubscribe %q, want %q", got, want)
	}
	if got := m.Header.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post %q", got)
	}
	if m.Header.Get("MIME-Version") != "1.0" {
		t.Errorf("MIME-Version %q", m.Header.Get("MIME-Version"))
	}
	gotText, gotHTML := parts(t, m)
	if strings.ReplaceAll(gotText, "\r\n", "\n") != text {
		t.Errorf("text part %q, want %q", gotText, text)
	}
	if !strings.Contains(gotHTML, `<a href="https://consulta.example.org/c/1?x=1&amp;y=2">`) ||
		!strings.Contains(gotHTML, "<p>Hola Ana,</p>") {
		t.Errorf("HTML part %q", gotHTML)
	}

	// A second message gets another Message-ID; a transactional one no
	// List-Unsubscribe.
	if err := s.Send(context.Background(), mail.Message{To: "ana@example.net", Subject: "Confirm", Text: "Follow the link."}); err != nil {
		t.Fatal(err)
	}
	m2, err := netmail.ReadMessage(strings.NewReader(string(srv.next(t).data)))
	if err != nil {
		t.Fatal(err)
	}
	if m2.Header.Get("Message-ID") == id {
		t.Error("two messages share a Message-ID")
	}
	if m2.Header.Get("List-Unsubscribe") != "" || m2.Header.Get("List-Unsubscribe-Post") != "" {
		t.Error("transactional mail has List-Unsubscribe headers")
	}
	if text, html := parts(t, m2); html != "" || !strings.Contains(text, "Follow the link.") {
		t.Errorf("text-only message: text %q, html %q", text, html)
	}
}

// TestMessageIDComesFromFrom: without a Domain, Message-IDs are at the
// domain of the From address; a MessageID given is kept.
func TestMessageIDComesFromFrom(t *testing.T) {
	srv := startServer(t, serverOptions{})
	s := newSender(t, mail.SMTPConfig{URL: "smtp://" + srv.addr, From: "noreply@mail.example.com"})
	for _, c := range []struct{ given, want string }{{"", "@mail.example.com>"}, {"row-42@consulta.example.org", "<row-42@consulta.example.org>"}} {
		if err := s.Send(context.Background(), mail.Message{To: "b@example.net", Subject: "s", Text: "t", MessageID: c.given}); err != nil {
			t.Fatal(err)
		}
		m, err := netmail.ReadMessage(strings.NewReader(string(srv.next(t).data)))
		if err != nil {
			t.Fatal(err)
		}
		if id := m.Header.Get("Message-ID"); !strings.HasSuffix(id, c.want) {
			t.Errorf("MessageID %q: header %q, want ending %q", c.given, id, c.want)
		}
	}
}

// testCert is a self-signed certificate for 127.0.0.1 and the pool that
// trusts it.
func testCert(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

// TestTLSModes: smtps:// speaks TLS from the start and authenticates;
// smtp:// takes STARTTLS when offered (required or opportunistic) and
// authenticates over it; starttls=required refuses a server without
// STARTTLS, and credentials never go in clear text.
func TestTLSModes(t *testing.T) {
	serverTLS, roots := testCert(t)
	clientTLS := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	cases := []struct {
		name    string
		srv     serverOptions
		url     string // after the scheme, before host:port
		scheme  string
		query   string
		wantTLS bool
		wantErr bool
	}{
		{name: "smtps with auth", srv: serverOptions{tls: serverTLS, implicit: true, user: "u", password: "p w"},
			scheme: "smtps", url: "u:p%20w@", wantTLS: true},
		{name: "starttls required with auth", srv: serverOptions{tls: serverTLS, user: "u", password: "pw"},
			scheme: "smtp", url: "u:pw@", query: "?starttls=required", wantTLS: true},
		{name: "starttls opportunistic", srv: serverOptions{tls: serverTLS}, scheme: "smtp", wantTLS: true},
		{name: "starttls none", srv: serverOptions{tls: serverTLS}, scheme: "smtp", query: "?starttls=none"},
		{name: "starttls required, not offered", srv: serverOptions{}, scheme: "smtp", query: "?starttls=required", wantErr: true},
		{name: "no clear-text credentials", srv: serverOptions{user: "u", password: "pw"}, scheme: "smtp", url: "u:pw@",
			query: "?starttls=none", wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := startServer(t, c.srv)
			s := newSender(t, mail.SMTPConfig{URL: c.scheme + "://" + c.url + srv.addr + c.query, TLS: clientTLS})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := s.Send(ctx, mail.Message{To: "b@example.net", Subject: "s", Text: "t"})
			if c.wantErr {
				if err == nil {
					t.Fatal("sent, want an error")
				}
				select {
				case <-srv.got:
					t.Error("the server received a message")
				default:
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r := srv.next(t)
			if r.tls != c.wantTLS || r.user != c.srv.user {
				t.Errorf("received over TLS %v as %q, want TLS %v as %q", r.tls, r.user, c.wantTLS, c.srv.user)
			}
		})
	}
}

// TestSendEndsWithContext: against a server that accepts the connection
// and then says nothing, Send gives up when its context ends, not later.
func TestSendEndsWithContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	s := newSender(t, mail.SMTPConfig{URL: "smtp://" + ln.Addr().String(), Timeout: time.Minute})
	for _, cancelled := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		if cancelled {
			ctx, cancel = context.WithCancel(context.Background())
			time.AfterFunc(500*time.Millisecond, cancel)
		}
		start := time.Now()
		err := s.Send(ctx, mail.Message{To: "b@example.net", Subject: "s", Text: "t"})
		cancel()
		want := context.DeadlineExceeded
		if cancelled {
			want = context.Canceled
		}
		if !errors.Is(err, want) {
			t.Errorf("cancelled %v: error %v, want %v", cancelled, err, want)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("cancelled %v: gave up after %s, well past the context's end", cancelled, d)
		}
	}
}

// TestParseURL: the forms of the SMTP URL, and errors that name the part
// at fault without quoting a password.
func TestParseURL(t *testing.T) {
	good := []struct {
		url  string
		want mail.Endpoint
	}{
		{"smtp://mail.example.org:2525", mail.Endpoint{Host: "mail.example.org", Port: 2525, StartTLS: mail.StartTLSOpportunistic}},
		{"smtp://mail.example.org", mail.Endpoint{Host: "mail.example.org", Port: 587, StartTLS: mail.StartTLSOpportunistic}},
		{"smtp://u%40x:s3cr%2Ft@mail.example.org:587?starttls=required", mail.Endpoint{Host: "mail.example.org", Port: 587,
			StartTLS: mail.StartTLSRequired, User: "u@x", Password: "s3cr/t"}},
		{"smtp://127.0.0.1:25?starttls=none", mail.Endpoint{Host: "127.0.0.1", Port: 25, StartTLS: mail.StartTLSNone}},
		{"smtps://u:p@mail.example.org", mail.Endpoint{Host: "mail.example.org", Port: 465, Implicit: true,
			StartTLS: mail.StartTLSOpportunistic, User: "u", Password: "p"}},
	}
	for _, c := range good {
		got, err := mail.ParseURL(c.url)
		if err != nil || got != c.want {
			t.Errorf("%s: %+v, %v; want %+v", c.url, got, err, c.want)
		}
	}
	bad := []struct{ url, names string }{
		{"http://u:hunter2@mail.example.org", "scheme"},
		{"smtp://u:hunter2@mail.example.org:99999", "port"},
		{"smtp://u:hunter2@mail.example.org?starttls=maybe", "starttls"},
		{"smtp://u:hunter2@mail.example.org?tls=1", "option"},
		{"smtps://u:hunter2@mail.example.org?starttls=required", "starttls"},
		{"smtp://u:hunter2@", "SMTP URL"},
		{"smtp://u:hunter2@mail.example.org/path", "SMTP URL"},
	}
	for _, c := range bad {
		_, err := mail.ParseURL(c.url)
		if err == nil || !strings.Contains(err.Error(), c.names) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error %v, want one naming %q without the password", c.url, err, c.names)
		}
	}
}

// TestValidate: every bad message is refused naming the field, and nothing
// is sent.
func TestValidate(t *testing.T) {
	srv := startServer(t, serverOptions{})
	s := newSender(t, mail.SMTPConfig{URL: "smtp://" + srv.addr})
	ok := mail.Message{To: "a@example.org", Subject: "s", Text: "t"}
	cases := []struct {
		field  string
		change func(*mail.Message)
	}{
		{"to", func(m *mail.Message) { m.To = "not an address" }},
		{"to", func(m *mail.Message) { m.To = "a@example.org\r\nBcc: x@example.org" }},
		{"subject", func(m *mail.Message) { m.Subject = "" }},
		{"subject", func(m *mail.Message) { m.Subject = "a\r\nBcc: x@example.org" }},
		{"text", func(m *mail.Message) { m.Text = "" }},
		{"message_id", func(m *mail.Message) { m.MessageID = "<x@y>" }},
		{"message_id", func(m *mail.Message) { m.MessageID = "no-domain" }},
		{"list_unsubscribe[0]", func(m *mail.Message) { m.ListUnsubscribe = []string{"http://example.org/u"} }},
		{"list_unsubscribe[1]", func(m *mail.Message) { m.ListUnsubscribe = []string{"mailto:u@example.org", "https://x/a>, <b"} }},
		{"one_click", func(m *mail.Message) { m.ListUnsubscribe, m.OneClick = []string{"mailto:u@example.org"}, true }},
	}
	for _, c := range cases {
		m := ok
		c.change(&m)
		err := s.Send(context.Background(), m)
		if !errors.Is(err, mail.ErrInvalid) || !strings.Contains(err.Error(), c.field+":") {
			t.Errorf("%s: %v, want ErrInvalid naming it", c.field, err)
		}
	}
	select {
	case <-srv.got:
		t.Error("an invalid message was sent")
	default:
	}
	if err := s.Send(context.Background(), ok); err != nil {
		t.Fatal(err)
	}
	srv.next(t)
}

// TestHTMLFromTextEscapes: markup in the text is shown, not obeyed, and
// only http(s) URLs become links.
func TestHTMLFromTextEscapes(t *testing.T) {
	got := mail.HTMLFromText(`<script>alert(1)</script> javascript:alert(1) "https://x.example/?a=<b>"` + "\nhttps://ok.example/p?a=1&b=2")
	for _, bad := range []string{"<script>", `href="javascript`, `<b>`} {
		if strings.Contains(got, bad) {
			t.Errorf("%q in %s", bad, got)
		}
	}
	if !strings.Contains(got, `<a href="https://ok.example/p?a=1&amp;b=2">`) {
		t.Errorf("no link in %s", got)
	}
}
