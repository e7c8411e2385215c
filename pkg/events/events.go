// Package events defines how Consulta's events travel: the envelope around
// every event, the subjects of the catalogue in docs/design.md, and the JetStream
// stream that carries them.
package events

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
)

// Types of the event catalogue. The subject an event is published on is its
// type, except for events about a submission, whose subject adds the
// submission id (see Subject).
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
	// DefaultMaxAge is how long the stream keeps a message by default. The
	// stream is a conveyor, not an archive: Postgres is the source of truth
	// and the outbox can republish, so a month is ample for any consumer
	// that was down to catch up, and bounds how long anything lives there.
	DefaultMaxAge = 30 * 24 * time.Hour
	// DefaultMaxBytes bounds the stream's storage by default (10 GiB); the
	// oldest messages go first when it is reached.
	DefaultMaxBytes int64 = 10 << 30
)

// submissionPrefix starts the type of every event about a submission.
const submissionPrefix = "consulta.submission."

// Subject is the subject env is published on. For an event about a
// submission it is the event's type followed by the submission id
// (consulta.submission.received.<id>), so that every message of one
// submission matches SubmissionMessages(id) and can be found and erased
// without reading the stream; for every other event it is the type.
func Subject(env *eventsv1.Envelope) string {
	if strings.HasPrefix(env.GetType(), submissionPrefix) && env.GetAggregateId() != "" {
		return env.GetType() + "." + env.GetAggregateId()
	}
	return env.GetType()
}

// Filters returns the subject filters a consumer of events of type
// eventType subscribes to: the type itself and, for submission events, the
// type followed by any submission id. The bare type matches the messages
// published before submission subjects carried the id, which a stream may
// still hold after an upgrade.
func Filters(eventType string) []string {
	if strings.HasPrefix(eventType, submissionPrefix) {
		return []string{eventType, eventType + ".*"}
	}
	return []string{eventType}
}

// SubmissionMessages is the filter that matches every message about the
// submission id, whatever its event.
func SubmissionMessages(id string) string {
	return submissionPrefix + "*." + id
}

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

// StreamSettings are the settings of the CONSULTA stream an operator chooses.
type StreamSettings struct {
	// Replicas of the stream: 1 on a single server, 3 on a cluster.
	Replicas int
	// MaxAge: older messages are removed. Zero means DefaultMaxAge.
	MaxAge time.Duration
	// MaxBytes bounds the stream's storage; the oldest messages are removed
	// first. Zero means DefaultMaxBytes.
	MaxBytes int64
}

// EnsureStream is ConfigureStream with replicas and the default limits.
func EnsureStream(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.Stream, error) {
	return ConfigureStream(ctx, js, StreamSettings{Replicas: replicas})
}

// ConfigureStream creates the CONSULTA stream, or updates an existing one to
// these settings (an older stream without limits gets them).
// File storage, because acknowledged events must survive a NATS restart.
// Retention by limits: messages leave after MaxAge, or oldest first beyond
// MaxBytes, so nothing stays in the stream for ever. No compression, so that
// the files hold messages as published and an erased message's bytes are
// overwritten in place (see EraseSubmission); events are small anyway.
func ConfigureStream(ctx context.Context, js jetstream.JetStream, s StreamSettings) (jetstream.Stream, error) {
	if s.Replicas < 1 {
		s.Replicas = 1
	}
	if s.MaxAge <= 0 {
		s.MaxAge = DefaultMaxAge
	}
	if s.MaxBytes <= 0 {
		s.MaxBytes = DefaultMaxBytes
	}
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamName,
		Description: "Consulta domain events",
		Subjects:    []string{StreamSubjects},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  DuplicateWindow,
		Replicas:    s.Replicas,
		Discard:     jetstream.DiscardOld,
		MaxAge:      s.MaxAge,
		MaxBytes:    s.MaxBytes,
		Compression: jetstream.NoCompression,
	})
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", StreamName, err)
	}
	return stream, nil
}
