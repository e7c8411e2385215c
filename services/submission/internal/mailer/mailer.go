// Package mailer sends the mail the submission service queues in its
// mail_outbox table (confirmation links, receipts). The queue lives in the service's
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
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consulta-platform/consulta/pkg/mail"
)

// Config says how mail leaves.
type Config struct {
	// SMTPURL is the server (mail.ParseURL: smtp://[user:password@]host:port
	// with ?starttls=required|opportunistic|none, or smtps:// for TLS from
	// the start); empty means no server, and mail stays queued.
	SMTPURL string
	// From is the sender address.
	From string
	// MessageIDDomain is the right-hand side of Message-IDs; empty means
	// the domain of From.
	MessageIDDomain string
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
	pool   *pgxpool.Pool
	cfg    Config
	log    *slog.Logger
	sender mail.Sender
	// domain is the right-hand side of Message-IDs.
	domain string
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
	m := &Mailer{pool: pool, cfg: cfg, log: log, lease: batchSize*cfg.SendTimeout + time.Minute,
		domain: cfg.MessageIDDomain}
	if m.domain == "" {
		m.domain = mail.DomainOf(cfg.From)
	}
	if cfg.SMTPURL != "" {
		s, err := mail.NewSMTP(mail.SMTPConfig{URL: cfg.SMTPURL, From: cfg.From, Domain: m.domain, Timeout: cfg.SendTimeout})
		if err != nil {
			return nil, fmt.Errorf("mailer: %w", err)
		}
		m.sender = s
	}
	return m, nil
}

// message is the mail x: a transactional message (no List-Unsubscribe),
// its text also as HTML. Its Message-ID comes from the row, so a message
// sent again after a crash (at least once) is recognisably the same one.
func (m *Mailer) message(x queued) mail.Message {
	return mail.Message{
		To: x.to, Subject: x.subject, Text: x.body, HTML: mail.HTMLFromText(x.body),
		MessageID: x.id + "@" + m.domain,
	}
}

// Run sends queued mail until ctx is cancelled.
func (m *Mailer) Run(ctx context.Context) error {
	if m.sender == nil {
		m.log.Warn("mailer: no SMTP server configured; mail to submitters stays queued")
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
	if m.sender == nil {
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

// queued is one claimed message.
type queued struct {
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
		sendErr := m.sender.Send(sendCtx, m.message(x))
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
func (m *Mailer) claim(ctx context.Context) ([]queued, error) {
	rows, err := m.pool.Query(ctx, `UPDATE submission.mail_outbox SET next_try_at = now() + $2::interval
		WHERE id IN (SELECT id FROM submission.mail_outbox WHERE next_try_at <= now()
			ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED)
		RETURNING id::text, to_address, subject, body, attempts`, batchSize, m.lease.String())
	if err != nil {
		return nil, fmt.Errorf("claim queued mail: %w", err)
	}
	msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (queued, error) {
		var x queued
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
func (m *Mailer) recordFailure(ctx context.Context, x queued, sendErr error) error {
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
func (m *Mailer) release(ctx context.Context, msgs []queued) error {
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
