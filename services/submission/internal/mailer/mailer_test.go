package mailer_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consulta-platform/consulta/pkg/testenv"
	"github.com/consulta-platform/consulta/services/submission/internal/mailer"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// smtpServer is a minimal SMTP server: it records the recipient of every
// message it accepts, after waiting delay per message; with hang it greets
// nobody and answers nothing, like a server that stopped responding.
type smtpServer struct {
	ln    net.Listener
	delay time.Duration
	hang  bool

	mu       sync.Mutex
	received []string
	accepted chan struct{} // one value per connection
}

func startSMTP(t *testing.T, delay time.Duration, hang bool) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln, delay: delay, hang: hang, accepted: make(chan struct{}, 100)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted <- struct{}{}
			go s.serve(t, conn)
		}
	}()
	return s
}

func (s *smtpServer) serve(t *testing.T, conn net.Conn) {
	defer conn.Close()
	if s.hang {
		_, _ = bufio.NewReader(conn).ReadString(0) // until the client gives up
		return
	}
	r := bufio.NewReader(conn)
	say := func(line string) { fmt.Fprintf(conn, "%s\r\n", line) }
	say("220 test ESMTP")
	var rcpt string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250 test")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			say("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			rcpt = strings.Trim(strings.TrimSpace(line)[len("RCPT TO:"):], "<>")
			say("250 ok")
		case cmd == "DATA":
			say("354 go on")
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			time.Sleep(s.delay)
			s.mu.Lock()
			s.received = append(s.received, rcpt)
			s.mu.Unlock()
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("502 not implemented")
		}
	}
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
