// Package events defines how Consulta's events travel: the envelope around
// every event, the subjects of the catalogue in docs/design.md, and the JetStream
// stream that carries them.
package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
)

// Subjects of the event catalogue. The subject of an event is also its type.
const (
	DialogueScheduled     = "consulta.dialogue.scheduled"
	DialogueUpdated       = "consulta.dialogue.updated"
	DialogueCancelled     = "consulta.dialogue.cancelled"
	ConsultationDrafted   = "consulta.consultation.drafted"
	ConsultationPublished = "consulta.consultation.published"
	ConsultationOpened    = "consulta.consultation.opened"
	ConsultationUpdated   = "consulta.consultation.updated"
	ConsultationClosed    = "consulta.consultation.closed"
	ConsultationArchived  = "consulta.consultation.archived"
	SubmissionReceived    = "consulta.submission.received"
	SubmissionConfirmed   = "consulta.submission.confirmed"
	SubmissionUpdated     = "consulta.submission.updated"
	SubmissionWithdrawn   = "consulta.submission.withdrawn"
	SubmissionExpired     = "consulta.submission.expired"
	SubmissionErased      = "consulta.submission.erased"
	SubmissionTranslated  = "consulta.submission.translated"
	// ConsultationTranslated carries machine translations of a consultation's
	// texts; the worker publishes it, not the consultation service.
	ConsultationTranslated = "consulta.consultation.translated"
)

// Subjects of the reference data (countries, thematic areas, stakeholder
// types), published by the consultation service on create and on every change.
const (
	CountryUpdated         = "consulta.reference.country.updated"
	ThematicAreaUpdated    = "consulta.reference.thematic_area.updated"
	StakeholderTypeUpdated = "consulta.reference.stakeholder_type.updated"
	// ReferenceSubjects is the filter that matches every reference event.
	ReferenceSubjects = "consulta.reference.>"
)

// Stream settings.
const (
	// StreamName is the one stream that carries every event.
	StreamName = "CONSULTA"
	// StreamSubjects is the subject filter of the stream.
	StreamSubjects = "consulta.>"
	// DuplicateWindow is how long JetStream remembers a Nats-Msg-Id. A relay
	// that crashes between publishing and marking its rows republishes within
	// this window and JetStream drops the copies; consumers' inboxes catch
	// anything older.
	DuplicateWindow = 10 * time.Minute
)

// HeaderType carries the event type next to the standard Nats-Msg-Id header,
// so that tools can filter without decoding the envelope.
const HeaderType = "Consulta-Type"

// Aggregate names the thing that changed.
type Aggregate struct {
	Type    string
	ID      string
	Version int64
}

// New wraps payload in an envelope with a fresh UUIDv7 id.
func New(eventType string, agg Aggregate, payload proto.Message, occurredAt time.Time) (*eventsv1.Envelope, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("event id: %w", err)
	}
	anyPayload, err := anypb.New(payload)
	if err != nil {
		return nil, fmt.Errorf("event payload %s: %w", eventType, err)
	}
	return &eventsv1.Envelope{
		Id:               id.String(),
		Type:             eventType,
		OccurredAt:       timestamppb.New(occurredAt),
		AggregateType:    agg.Type,
		AggregateId:      agg.ID,
		AggregateVersion: agg.Version,
		Payload:          anyPayload,
	}, nil
}

// Marshal encodes an envelope for the wire.
func Marshal(env *eventsv1.Envelope) ([]byte, error) {
	b, err := proto.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("marshal envelope %s: %w", env.GetId(), err)
	}
	return b, nil
}

// Unmarshal decodes an envelope and checks the fields every consumer relies on.
func Unmarshal(data []byte) (*eventsv1.Envelope, error) {
	env := &eventsv1.Envelope{}
	if err := proto.Unmarshal(data, env); err != nil {
		return nil, fmt.Errorf("unmarshal envelope: %w", err)
	}
	if _, err := uuid.Parse(env.GetId()); err != nil {
		return nil, fmt.Errorf("envelope id %q: %w", env.GetId(), err)
	}
	if env.GetType() == "" || env.GetPayload() == nil {
		return nil, errors.New("envelope without type or payload")
	}
	return env, nil
}

// Payload decodes the envelope's payload into dst, checking its type.
func Payload(env *eventsv1.Envelope, dst proto.Message) error {
	if err := env.GetPayload().UnmarshalTo(dst); err != nil {
		return fmt.Errorf("event %s (%s): payload: %w", env.GetId(), env.GetType(), err)
	}
	return nil
}

// Decode returns the payload of env as the message type it names, from the
// types the generated code registers. Consumers then ask for what they need
// by interface (interface{ GetConsultation() *consultationv1.Consultation }),
// so no list of event types is kept by hand next to the catalogue.
func Decode(env *eventsv1.Envelope) (proto.Message, error) {
	m, err := env.GetPayload().UnmarshalNew()
	if err != nil {
		return nil, fmt.Errorf("event %s (%s): payload: %w", env.GetId(), env.GetType(), err)
	}
	return m, nil
}

// EnsureStream creates the CONSULTA stream, or updates it to these settings.
// File storage, because acknowledged events must survive a NATS restart.
func EnsureStream(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.Stream, error) {
	if replicas < 1 {
		replicas = 1
	}
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamName,
		Description: "Consulta domain events",
		Subjects:    []string{StreamSubjects},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  DuplicateWindow,
		Replicas:    replicas,
		Discard:     jetstream.DiscardOld,
	})
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", StreamName, err)
	}
	return s, nil
}
