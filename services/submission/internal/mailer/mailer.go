// Package mailer sends the mail the submission service queues in its
// mail_outbox table (confirmation links). The queue lives in the service's
// own schema because the messages hold email addresses, which must not leave
// it; a sent message is deleted, a failed one retried with backoff.
package mailer

import (
	"context"
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

	"github.com/consulta-platform/consulta/pkg/postgres"
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
}

// Mailer drains the mail outbox.
type Mailer struct {
	pool *pgxpool.Pool
	cfg  Config
	log  *slog.Logger
	send func(to, subject, body string) error
}

// New returns a mailer for the queue in pool.
func New(pool *pgxpool.Pool, cfg Config, log *slog.Logger) (*Mailer, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.From == "" {
		cfg.From = "consulta@localhost"
	}
	m := &Mailer{pool: pool, cfg: cfg, log: log}
	switch {
	case cfg.SMTPURL != "":
		u, err := url.Parse(cfg.SMTPURL)
		if err != nil || u.Scheme != "smtp" || u.Host == "" {
			return nil, fmt.Errorf("mailer: SMTP URL %q: want smtp://[user:password@]host:port", cfg.SMTPURL)
		}
		m.send = m.smtpSender(u)
	case cfg.LogOnly:
		m.send = func(to, subject, body string) error {
			log.Info("mail (not sent: development)", "to", to, "subject", subject, "body", body)
			return nil
		}
	}
	return m, nil
}

func (m *Mailer) smtpSender(u *url.URL) func(to, subject, body string) error {
	var a smtp.Auth
	if u.User != nil {
		pw, _ := u.User.Password()
		host, _, _ := net.SplitHostPort(u.Host)
		a = smtp.PlainAuth("", u.User.Username(), pw, host)
	}
	return func(to, subject, body string) error {
		msg := "From: " + m.cfg.From + "\r\nTo: " + to + "\r\nSubject: " + subject +
			"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
			strings.ReplaceAll(body, "\n", "\r\n")
		return smtp.SendMail(u.Host, a, m.cfg.From, []string{to}, []byte(msg))
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

func (m *Mailer) flushBatch(ctx context.Context) (sent int, more bool, err error) {
	const batch = 20
	err = postgres.InTx(ctx, m.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id::text, to_address, subject, body, attempts FROM submission.mail_outbox
			WHERE next_try_at <= now() ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED`, batch)
		if err != nil {
			return fmt.Errorf("queued mail: %w", err)
		}
		type mail struct {
			id, to, subject, body string
			attempts              int
		}
		msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (mail, error) {
			var x mail
			err := r.Scan(&x.id, &x.to, &x.subject, &x.body, &x.attempts)
			return x, err
		})
		if err != nil {
			return fmt.Errorf("queued mail: %w", err)
		}
		more = len(msgs) == batch
		for _, x := range msgs {
			if err := m.send(x.to, x.subject, x.body); err != nil {
				// Retry with a growing pause; the address stays in this schema.
				delay := time.Duration(1<<min(x.attempts, 10)) * 30 * time.Second
				if _, uerr := tx.Exec(ctx, `UPDATE submission.mail_outbox SET attempts = attempts + 1,
					next_try_at = now() + $2::interval, last_error = $3 WHERE id = $1`, x.id, delay.String(), err.Error()); uerr != nil {
					return fmt.Errorf("record mail failure: %w", uerr)
				}
				m.log.Warn("mailer: send failed, will retry", "mail_id", x.id, "retry_in", delay, "err", err)
				more = false
				continue
			}
			if _, err := tx.Exec(ctx, `DELETE FROM submission.mail_outbox WHERE id = $1`, x.id); err != nil {
				return fmt.Errorf("delete sent mail: %w", err)
			}
			sent++
		}
		return nil
	})
	return sent, more, err
}
