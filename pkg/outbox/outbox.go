// Package outbox is how a service publishes events without a dual write.
//
// A service writes the event into its own <schema>.outbox table with Add, in
// the same transaction as the state change it describes, so the event exists
// if and only if the change committed. A Relay then copies unpublished rows to
// JetStream with Nats-Msg-Id = event id and marks them published.
//
// Delivery is at least once: a relay that dies after publishing but before
// marking its rows publishes them again on restart, and JetStream's duplicate
// window (events.DuplicateWindow) drops the copies; consumers' inboxes catch
// anything older.
package outbox

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consulta-platform/consulta/pkg/events"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
)

// NotifyChannel is the Postgres notification channel Add signals on commit.
// The payload is the schema, so that the relays of several services sharing
// one database wake only for their own outbox.
const NotifyChannel = "consulta_outbox"

// Add writes envs into <schema>.outbox within tx, the transaction of the
// state change they describe, each with the subject it is published on
// (events.Subject), and notifies the relay, which Postgres delivers
// only when tx commits. All rows and the notification go in one round trip.
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
