// Package mailer sends the mail the submission service queues in its
// mail_outbox table (confirmation links). The queue lives in the service's
// own schema because the messages hold email addresses, which must not leave
// it; a sent message is deleted, a failed one retried with backoff.
//
// No transaction is open while a message travels: a batch is claimed in one
// short statement (its rows get a lease: next_try_at moves past the time
// the batch may take, so no other mailer takes them), each message is sent
// with a timeout, and its outcome is recorded in another short statement.
// Delivery is at least once: a mailer that dies between a send and its
// record leaves the lease to run out, and the message goes again.
package mailer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/smtp"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Config says how mail leaves.
type Config struct {
	// SMTPURL is smtp://[user:password@]host:port; empty means no server.
	SMTPURL string
	// From is the sender address.
	From string
	// LogOnly writes messages to the log instead of sending them, for
	// development without a mail server. Never in production: the log then
	// holds addresses.
	LogOnly bool
	// Interval is how often the queue is looked at (default 1s).
	Interval time.Duration
	// SendTimeout bounds the sending of one message, from the dial to the
	// server's answer (default 30s).
	SendTimeout time.Duration
}

// batchSize is how many messages one claim takes.
const batchSize = 20

// Mailer drains the mail outbox.
type Mailer struct {
	pool *pgxpool.Pool
	cfg  Config
	log  *slog.Logger
	send func(ctx context.Context, to, subject, body string) error
	// lease is how long claimed messages are left to this mailer: the time
	// a whole batch may take, and a margin.
	lease time.Duration
}

// New returns a mailer for the queue in pool.
func New(pool *pgxpool.Pool, cfg Config, log *slog.Logger) (*Mailer, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = 30 * time.Second
	}
	if cfg.From == "" {
		cfg.From = "consulta@localhost"
	}
	m := &Mailer{pool: pool, cfg: cfg, log: log, lease: batchSize*cfg.SendTimeout + time.Minute}
	switch {
	case cfg.SMTPURL != "":
		u, err := url.Parse(cfg.SMTPURL)
		if err != nil || u.Scheme != "smtp" || u.Host == "" {
			return nil, fmt.Errorf("mailer: SMTP URL %q: want smtp://[user:password@]host:port", cfg.SMTPURL)
		}
		m.send = m.smtpSender(u)
	case cfg.LogOnly:
		m.send = func(_ context.Context, to, subject, body string) error {
			log.Info("mail (not sent: development)", "to", to, "subject", subject, "body", body)
			return nil
		}
	}
	return m, nil
}

// smtpSender sends through the server at u, as smtp.SendMail does, but
// bounded by ctx: the dial, and every exchange after it through the
// connection's deadline.
func (m *Mailer) smtpSender(u *url.URL) func(ctx context.Context, to, subject, body string) error {
	host, _, _ := net.SplitHostPort(u.Host)
	var a smtp.Auth
	if u.User != nil {
		pw, _ := u.User.Password()
		a = smtp.PlainAuth("", u.User.Username(), pw, host)
	}
	return func(ctx context.Context, to, subject, body string) error {
		msg := "From: " + m.cfg.From + "\r\nTo: " + to + "\r\nSubject: " + subject +
			"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
			strings.ReplaceAll(body, "\n", "\r\n")
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", u.Host)
		if err != nil {
			return fmt.Errorf("dial %s: %w", u.Host, err)
		}
		defer conn.Close()
		if dl, ok := ctx.Deadline(); ok {
			if err := conn.SetDeadline(dl); err != nil {
				return err
			}
		}
		// A cancelled ctx (shutdown) ends the exchange at once.
		stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
		defer stop()
		c, err := smtp.NewClient(conn, host)
		if err != nil {
			return fmt.Errorf("smtp greeting: %w", err)
		}
		defer c.Close()
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(&tls.Config{ServerName: host}); err != nil {
				return fmt.Errorf("smtp starttls: %w", err)
			}
		}
		if a != nil {
			if ok, _ := c.Extension("AUTH"); ok {
				if err := c.Auth(a); err != nil {
					return fmt.Errorf("smtp auth: %w", err)
				}
			}
		}
		if err := c.Mail(m.cfg.From); err != nil {
			return fmt.Errorf("smtp MAIL: %w", err)
		}
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("smtp RCPT: %w", err)
		}
		w, err := c.Data()
		if err != nil {
			return fmt.Errorf("smtp DATA: %w", err)
		}
		if _, err := w.Write([]byte(msg)); err != nil {
			return fmt.Errorf("smtp message: %w", err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("smtp message: %w", err)
		}
		return c.Quit()
	}
}

// Run sends queued mail until ctx is cancelled.
func (m *Mailer) Run(ctx context.Context) error {
	if m.send == nil {
		m.log.Warn("mailer: no SMTP server configured; confirmation mail stays queued")
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := m.Flush(ctx); err != nil && ctx.Err() == nil {
			m.log.Error("mailer: flush", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Flush sends what is due now and returns how many messages went out.
func (m *Mailer) Flush(ctx context.Context) (int, error) {
	if m.send == nil {
		return 0, errors.New("mailer: nothing to send with")
	}
	sent := 0
	for {
		n, more, err := m.flushBatch(ctx)
		sent += n
		if err != nil || !more {
			return sent, err
		}
	}
}

// mail is one claimed message.
type mail struct {
	id, to, subject, body string
	attempts              int
}

// flushBatch claims a batch, sends it and records each outcome.
func (m *Mailer) flushBatch(ctx context.Context) (sent int, more bool, err error) {
	msgs, err := m.claim(ctx)
	if err != nil {
		return 0, false, err
	}
	more = len(msgs) == batchSize
	for i, x := range msgs {
		if ctx.Err() != nil {
			// Stopping: what is not sent goes back to the queue now rather
			// than when the lease runs out.
			return sent, false, m.release(ctx, msgs[i:])
		}
		sendCtx, cancel := context.WithTimeout(ctx, m.cfg.SendTimeout)
		sendErr := m.send(sendCtx, x.to, x.subject, x.body)
		cancel()
		if sendErr != nil && ctx.Err() != nil {
			return sent, false, m.release(ctx, msgs[i:])
		}
		if sendErr != nil {
			if err := m.recordFailure(ctx, x, sendErr); err != nil {
				return sent, false, err
			}
			more = false
			continue
		}
		// A crash here sends x again once its lease runs out.
		if _, err := m.pool.Exec(ctx, `DELETE FROM submission.mail_outbox WHERE id = $1`, x.id); err != nil {
			return sent, false, fmt.Errorf("delete sent mail: %w", err)
		}
		sent++
	}
	return sent, more, nil
}

// claim takes up to batchSize due messages for this mailer, in one
// statement (its own short transaction): their next_try_at moves to the
// end of the lease, so no other mailer takes them meanwhile.
func (m *Mailer) claim(ctx context.Context) ([]mail, error) {
	rows, err := m.pool.Query(ctx, `UPDATE submission.mail_outbox SET next_try_at = now() + $2::interval
		WHERE id IN (SELECT id FROM submission.mail_outbox WHERE next_try_at <= now()
			ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED)
		RETURNING id::text, to_address, subject, body, attempts`, batchSize, m.lease.String())
	if err != nil {
		return nil, fmt.Errorf("claim queued mail: %w", err)
	}
	msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (mail, error) {
		var x mail
		err := r.Scan(&x.id, &x.to, &x.subject, &x.body, &x.attempts)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim queued mail: %w", err)
	}
	return msgs, nil
}

// recordFailure schedules x again after a pause that grows with each
// failure; the address stays in this schema.
func (m *Mailer) recordFailure(ctx context.Context, x mail, sendErr error) error {
	delay := time.Duration(1<<min(x.attempts, 10)) * 30 * time.Second
	if _, err := m.pool.Exec(ctx, `UPDATE submission.mail_outbox SET attempts = attempts + 1,
		next_try_at = now() + $2::interval, last_error = $3 WHERE id = $1`, x.id, delay.String(), sendErr.Error()); err != nil {
		return fmt.Errorf("record mail failure: %w", err)
	}
	// The server's answer may quote the address: the log gets it without.
	m.log.Warn("mailer: send failed, will retry", "mail_id", x.id, "retry_in", delay,
		"err", strings.ReplaceAll(sendErr.Error(), x.to, "<recipient>"))
	return nil
}

// release hands unsent claimed messages back to the queue, due now. It runs
// while stopping, so it does not take ctx's cancellation.
func (m *Mailer) release(ctx context.Context, msgs []mail) error {
	ids := make([]string, len(msgs))
	for i, x := range msgs {
		ids[i] = x.id
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := m.pool.Exec(ctx, `UPDATE submission.mail_outbox SET next_try_at = now() WHERE id = ANY($1::uuid[])`, ids); err != nil {
		return fmt.Errorf("release claimed mail: %w", err)
	}
	return nil
}
