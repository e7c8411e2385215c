// Package outbox is how a service publishes events without a dual write.
//
// A service writes the event into its own <schema>.outbox table with Add, in
// the same transaction as the state change it describes, so the event exists
// if and only if the change committed. A Relay then copies unpublished rows to
// JetStream with Nats-Msg-Id = event id and marks them published: it claims
// a batch with a lease in one short statement, publishes it with no
// transaction open, and records the outcome in another.
//
// Delivery is at least once: the rows of a relay that dies after publishing
// but before marking them are published again once their lease has run out
// (RelayConfig.ClaimLease), and JetStream's duplicate window
// (events.DuplicateWindow) drops the copies; consumers' inboxes catch
// anything older.
//
// # Size
//
// NATS refuses a message larger than the server's max_payload (1 MiB by
// default). Add refuses an event larger than MaxEventBytes with a
// *TooLargeError, so that the change is refused while the caller is there to
// hear it, instead of being committed and then stuck in the outbox. A row
// that the relay still cannot publish (a server configured smaller, or a
// row written before the limit) is set aside as a dead letter, never left
// to block the rows after it.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/events"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
)

// NotifyChannel is the Postgres notification channel Add signals on commit.
// The payload is the schema, so that the relays of several services sharing
// one database wake only for their own outbox.
const NotifyChannel = "consulta_outbox"

// DefaultMaxEventBytes is the default of MaxEventBytes: below NATS's default
// max_payload of 1 MiB, with room for the headers the relay adds.
const DefaultMaxEventBytes = 1<<20 - 64<<10

// maxEventBytes is what SetMaxEventBytes set.
var maxEventBytes atomic.Int64

func init() { maxEventBytes.Store(DefaultMaxEventBytes) }

// SetMaxEventBytes sets the largest encoded event Add accepts, for every
// schema of the process. It must stay below the NATS server's max_payload
// (the process checks this at start). n <= 0 restores the default.
func SetMaxEventBytes(n int) {
	if n <= 0 {
		n = DefaultMaxEventBytes
	}
	maxEventBytes.Store(int64(n))
}

// MaxEventBytes is the largest encoded event Add accepts.
func MaxEventBytes() int { return int(maxEventBytes.Load()) }

// TooLargeError is Add's refusal of an event larger than MaxEventBytes.
// Services translate it into an invalid-argument error naming the field that
// made it large (WithField); unnamed, it still reaches the caller as
// InvalidArgument rather than Internal.
type TooLargeError struct {
	EventID string
	Subject string
	Size    int
	Limit   int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("event %s (%s) is %d bytes, over the limit of %d", e.EventID, e.Subject, e.Size, e.Limit)
}

// Unwrap makes the refusal an apperr invalid-input error, so that the gRPC
// edge answers InvalidArgument even when no service named the field.
func (e *TooLargeError) Unwrap() error {
	return apperr.Invalid("", "the change is too large to record: %d bytes of event data, at most %d", e.Size, e.Limit)
}

// WithField turns a *TooLargeError in err into an invalid-input error about
// field, saying what to shorten; any other error is returned unchanged.
func WithField(err error, field, what string) error {
	var tl *TooLargeError
	if !errors.As(err, &tl) {
		return err
	}
	return apperr.Invalid(field, "%s too large to record: %d bytes of event data, at most %d; shorten them", what, tl.Size, tl.Limit)
}

// Add writes envs into <schema>.outbox within tx, the transaction of the
// state change they describe, each with the subject it is published on
// (events.Subject), and notifies the relay, which Postgres delivers
// only when tx commits. All rows and the notification go in one round trip.
// An event larger than MaxEventBytes is refused with a *TooLargeError before
// anything is written.
func Add(ctx context.Context, tx pgx.Tx, schema string, envs ...*eventsv1.Envelope) error {
	if schema == "" {
		return errors.New("outbox add: empty schema")
	}
	if len(envs) == 0 {
		return nil
	}
	batch := &pgx.Batch{}
	for _, env := range envs {
		if _, err := uuid.Parse(env.GetId()); err != nil {
			return fmt.Errorf("outbox add: envelope id %q: %w", env.GetId(), err)
		}
		if env.GetType() == "" {
			return fmt.Errorf("outbox add: event %s: empty type", env.GetId())
		}
		payload, err := events.Marshal(env)
		if err != nil {
			return fmt.Errorf("outbox add: %w", err)
		}
		if limit := MaxEventBytes(); len(payload) > limit {
			return fmt.Errorf("outbox add: %w", &TooLargeError{EventID: env.GetId(), Subject: env.GetType(), Size: len(payload), Limit: limit})
		}
		batch.Queue(
			"INSERT INTO "+table(schema)+" (event_id, subject, payload) VALUES ($1, $2, $3)",
			env.GetId(), events.Subject(env), payload,
		)
	}
	batch.Queue("SELECT pg_notify($1, $2)", NotifyChannel, schema)
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("outbox add: %d events to %s: %w", len(envs), schema, err)
	}
	return nil
}

// table is the quoted name of schema's outbox table.
func table(schema string) string {
	return pgx.Identifier{schema, "outbox"}.Sanitize()
}
