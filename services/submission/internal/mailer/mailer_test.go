package mailer_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consulta-platform/consulta/pkg/testenv"
	"github.com/consulta-platform/consulta/services/submission/internal/mailer"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// smtpServer is an SMTP server in the test's process. It records every
// message it accepts, after waiting delay per message; with hang it is a
// bare listener that greets nobody and answers nothing, like a server that
// stopped responding.
type smtpServer struct {
	ln    net.Listener
	delay time.Duration
	hang  bool

	mu       sync.Mutex
	received []string // envelope recipients, one per message
	messages [][]byte
	accepted chan struct{} // one value per connection (hang only)
}

func startSMTP(t *testing.T, delay time.Duration, hang bool) *smtpServer {
	t.Helper()
	return startSMTPAt(t, "127.0.0.1:0", delay, hang)
}

func startSMTPAt(t *testing.T, addr string, delay time.Duration, hang bool) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln, delay: delay, hang: hang, accepted: make(chan struct{}, 100)}
	t.Cleanup(func() { ln.Close() })
	if hang {
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				s.accepted <- struct{}{}
				go func() {
					defer conn.Close()
					_, _ = bufio.NewReader(conn).ReadString(0) // until the client gives up
				}()
			}
		}()
		return s
	}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) { return &session{s: s}, nil }))
	srv.Domain = "test.example"
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return s
}

// session records one conversation's messages.
type session struct {
	s  *smtpServer
	to string
}

func (x *session) Mail(string, *gosmtp.MailOptions) error { return nil }
func (x *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	x.to = to
	return nil
}

func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	time.Sleep(x.s.delay)
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	x.s.received = append(x.s.received, x.to)
	x.s.messages = append(x.s.messages, b)
	return nil
}

func (x *session) Reset()        { x.to = "" }
func (x *session) Logout() error { return nil }

func (s *smtpServer) got() (to []string, msgs [][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.received), slices.Clone(s.messages)
}

func queueMail(t *testing.T, pool *pgxpool.Pool, to string) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), `INSERT INTO submission.mail_outbox (id, to_address, subject, body)
		VALUES (gen_random_uuid(), $1, 'Confirm', 'Follow the link.')`, to); err != nil {
		t.Fatal(err)
	}
}

func newMailer(t *testing.T, pool *pgxpool.Pool, srv *smtpServer, sendTimeout time.Duration) *mailer.Mailer {
	t.Helper()
	m, err := mailer.New(pool, mailer.Config{SMTPURL: "smtp://" + srv.ln.Addr().String(), SendTimeout: sendTimeout},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestEachMailIsSentOnceByConcurrentMailers: two mailers flushing the same
// queue at once send every message once, and delete it once sent.
func TestEachMailIsSentOnceByConcurrentMailers(t *testing.T) {
	pool := testenv.Pool(t)
	srv := startSMTP(t, 20*time.Millisecond, false)
	want := map[string]bool{}
	for i := range 6 {
		to := fmt.Sprintf("person%d@example.org", i)
		want[to] = true
		queueMail(t, pool, to)
	}
	var wg sync.WaitGroup
	sent := make([]int, 2)
	for i := range sent {
		m := newMailer(t, pool, srv, 5*time.Second)
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := m.Flush(context.Background())
			if err != nil {
				t.Error(err)
			}
			sent[i] = n
		}()
	}
	wg.Wait()
	srv.mu.Lock()
	got := srv.received
	srv.mu.Unlock()
	if len(got) != len(want) || sent[0]+sent[1] != len(want) {
		t.Errorf("%d messages sent (%v), flushes report %v, want %d", len(got), got, sent, len(want))
	}
	for _, to := range got {
		if !want[to] {
			t.Errorf("sent twice or unexpected: %s", to)
		}
		delete(want, to)
	}
	var left int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM submission.mail_outbox`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d sent messages are still queued", left)
	}
}

// TestStuckMailServerHoldsNoConnection: while a send waits on a server that
// does not answer, the mailer holds no database connection (its pool has
// one, and another query gets it at once), and the send gives up after its
// timeout; the message is then scheduled again with the error recorded.
func TestStuckMailServerHoldsNoConnection(t *testing.T) {
	cfg, err := pgxpool.ParseConfig(testenv.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	srv := startSMTP(t, 0, true)
	queueMail(t, pool, "stuck@example.org")
	const sendTimeout = 2 * time.Second
	m := newMailer(t, pool, srv, sendTimeout)

	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := m.Flush(context.Background())
		done <- err
	}()
	select {
	case <-srv.accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("the mailer never reached the server")
	}
	// The send is under way: the only connection must be free.
	ctx, cancel := context.WithTimeout(context.Background(), sendTimeout/2)
	defer cancel()
	var leased bool
	if err := pool.QueryRow(ctx, `SELECT next_try_at > now() FROM submission.mail_outbox`).Scan(&leased); err != nil {
		t.Fatalf("a query during the send: %v (the mailer holds the connection)", err)
	}
	if !leased {
		t.Error("the message being sent is not leased: another mailer could take it")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(sendTimeout + 10*time.Second):
		t.Fatalf("the send did not give up after its timeout of %s", sendTimeout)
	}
	if elapsed := time.Since(start); elapsed < sendTimeout {
		t.Errorf("gave up after %s, before the timeout", elapsed)
	}
	var attempts int
	var lastError string
	var later bool
	if err := pool.QueryRow(context.Background(), `SELECT attempts, last_error, next_try_at > now() + interval '20 seconds'
		FROM submission.mail_outbox`).Scan(&attempts, &lastError, &later); err != nil {
		t.Fatal(err)
	}
	if attempts != 1 || lastError == "" || !later {
		t.Errorf("after the timeout: attempts %d, last error %q, retried later %v", attempts, lastError, later)
	}
}

// TestQueuedMailArrivesWithItsHeaders: a queued message reaches the server
// with Date, a Message-ID made of its row's id at the configured domain
// (the same on every attempt), From, To, Subject, and its text as a
// text/plain part with an HTML alternative in which the link is a link; no
// List-Unsubscribe, as it is transactional.
func TestQueuedMailArrivesWithItsHeaders(t *testing.T) {
	pool := testenv.Pool(t)
	srv := startSMTP(t, 0, false)
	const body = "Thank you for your submission.\n\nIt counts once you confirm it by following this link:\n\n" +
		"https://consulta.example.org/confirm?token=a.b&x=1\n"
	var id string
	if err := pool.QueryRow(context.Background(), `INSERT INTO submission.mail_outbox (id, to_address, subject, body)
		VALUES (gen_random_uuid(), 'maria@example.org', 'Confirm your submission', $1) RETURNING id::text`, body).Scan(&id); err != nil {
		t.Fatal(err)
	}
	m, err := mailer.New(pool, mailer.Config{SMTPURL: "smtp://" + srv.ln.Addr().String(), From: "Consulta <noreply@example.org>",
		MessageIDDomain: "consulta.example.org"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Second)
	if n, err := m.Flush(context.Background()); err != nil || n != 1 {
		t.Fatalf("flush: %d sent, %v", n, err)
	}
	to, msgs := srv.got()
	if len(msgs) != 1 || to[0] != "maria@example.org" {
		t.Fatalf("server got %d messages for %v", len(msgs), to)
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(msgs[0]))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	if d, err := h.Date(); err != nil || d.Before(before) || d.After(time.Now().Add(time.Second)) {
		t.Errorf("Date %q", h.Get("Date"))
	}
	for k, want := range map[string]string{
		"Message-ID": "<" + id + "@consulta.example.org>", "From": `"Consulta" <noreply@example.org>`,
		"To": "<maria@example.org>", "Subject": "Confirm your submission", "List-Unsubscribe": "",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q", h.Get("Content-Type"))
	}
	parts := map[string]string{}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		parts[pt] = strings.ReplaceAll(string(b), "\r\n", "\n")
	}
	if parts["text/plain"] != body {
		t.Errorf("text part %q, want %q", parts["text/plain"], body)
	}
	if !strings.Contains(parts["text/html"], `<a href="https://consulta.example.org/confirm?token=a.b&amp;x=1">`) {
		t.Errorf("HTML part %q", parts["text/html"])
	}
}

// TestMailServerDownThenUp: while the server does not listen, a send fails
// and the message stays queued with the error recorded; once the server
// listens and the pause is over, the message goes out once, and leaves the
// queue.
func TestMailServerDownThenUp(t *testing.T) {
	pool := testenv.Pool(t)
	// A port nobody listens on (yet).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	queueMail(t, pool, "later@example.org")
	m, err := mailer.New(pool, mailer.Config{SMTPURL: "smtp://" + addr, SendTimeout: 5 * time.Second}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if n, err := m.Flush(ctx); err != nil || n != 0 {
		t.Fatalf("flush while down: %d sent, %v", n, err)
	}
	var attempts int
	var lastError string
	var later bool
	if err := pool.QueryRow(ctx, `SELECT attempts, coalesce(last_error, ''), next_try_at > now() FROM submission.mail_outbox`).
		Scan(&attempts, &lastError, &later); err != nil {
		t.Fatal(err)
	}
	if attempts != 1 || lastError == "" || !later {
		t.Fatalf("after a failed send: attempts %d, last error %q, retried later %v", attempts, lastError, later)
	}
	// Not yet due: nothing is tried.
	srv := startSMTPAt(t, addr, 0, false)
	if n, err := m.Flush(ctx); err != nil || n != 0 {
		t.Fatalf("flush before the pause is over: %d sent, %v", n, err)
	}
	// The pause is over.
	if _, err := pool.Exec(ctx, `UPDATE submission.mail_outbox SET next_try_at = now()`); err != nil {
		t.Fatal(err)
	}
	if n, err := m.Flush(ctx); err != nil || n != 1 {
		t.Fatalf("flush once up: %d sent, %v", n, err)
	}
	if n, err := m.Flush(ctx); err != nil || n != 0 {
		t.Fatalf("flush again: %d sent, %v", n, err)
	}
	if to, _ := srv.got(); len(to) != 1 || to[0] != "later@example.org" {
		t.Errorf("server received %v, want the message once", to)
	}
	var left int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM submission.mail_outbox`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d messages still queued", left)
	}
}
