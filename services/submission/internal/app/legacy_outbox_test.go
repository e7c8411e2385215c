package app

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/consulta-platform/consulta/pkg/events"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
)

// TestErasureScrubsEventsWrittenBeforeEventsLostTheirTexts: an outbox row
// written by an earlier version, whose snapshot still carried the
// organisation name (field 6) and the answers with their texts (field 8),
// loses them when its submission is erased, and still decodes as the same
// event.
func TestErasureScrubsEventsWrittenBeforeEventsLostTheirTexts(t *testing.T) {
	ctx := context.Background()
	e := newRightsEnv(t)
	c := e.consultation(false)
	const (
		email    = "legacy.outbox@example.org"
		name     = "Nombre De Persona Antigua"
		oldText  = "Texto antiguo que un evento viejo llevaba"
		keepName = "Organización Que Nadie Borra"
	)
	sub := e.submit(c, testRespondent{stakeholder: "individual", person: name, email: email, publication: domain.PublicNamed},
		ansText("vision", "texto nuevo"))
	other := e.submit(c, testRespondent{stakeholder: "civil_society", org: keepName, email: "other@example.org",
		publication: domain.PublicNamed}, ansText("vision", "otro"))

	// The old wire form: today's snapshot plus the fields since reserved.
	legacy := func(s domain.Submission, org, text string) []byte {
		snap, err := proto.Marshal(Snapshot(s))
		if err != nil {
			t.Fatal(err)
		}
		snap = protowire.AppendTag(snap, 6, protowire.BytesType)
		snap = protowire.AppendString(snap, org)
		var answer []byte
		answer = protowire.AppendTag(answer, 1, protowire.BytesType)
		answer = protowire.AppendString(answer, "vision")
		answer = protowire.AppendTag(answer, 2, protowire.BytesType)
		answer = protowire.AppendString(answer, text)
		snap = protowire.AppendTag(snap, 8, protowire.BytesType)
		snap = protowire.AppendBytes(snap, answer)
		var ev []byte
		ev = protowire.AppendTag(ev, 1, protowire.BytesType)
		ev = protowire.AppendBytes(ev, snap)
		env, err := events.New(events.SubmissionReceived, events.Aggregate{Type: "submission", ID: s.ID, Version: s.Version},
			&submissionv1.SubmissionReceivedEvent{}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		env.Payload = &anypb.Any{TypeUrl: env.GetPayload().GetTypeUrl(), Value: ev}
		b, err := events.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.pool.Exec(ctx, `INSERT INTO submission.outbox (event_id, subject, payload, published_at)
			VALUES ($1, $2, $3, now())`, uuid.NewString(), events.SubmissionReceived, b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	legacy(sub.Submission, name, oldText)
	legacy(other.Submission, keepName, "texto de una organización")
	for _, s := range []string{name, oldText, keepName} {
		if len(personalDataHits(t, e, s)) == 0 {
			t.Fatalf("%q is nowhere before the erasure: the search is broken", s)
		}
	}

	if _, err := e.app.ErasePersonalData(ctx, secretariat, email, "request DPR-legacy"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{email, name, oldText} {
		if hits := personalDataHits(t, e, s); len(hits) > 0 {
			t.Errorf("%q is still in %v", s, hits)
		}
	}
	if len(personalDataHits(t, e, keepName)) == 0 {
		t.Errorf("the legacy event of another submission was rewritten too")
	}
	// The scrubbed row is still the same event.
	var b []byte
	if err := e.pool.QueryRow(ctx, `SELECT payload FROM submission.outbox WHERE subject = $1
		AND position(convert_to($2::text, 'UTF8') IN payload) > 0`, events.SubmissionReceived, sub.Submission.ID).Scan(&b); err != nil {
		t.Fatal(err)
	}
	env, err := events.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var ev submissionv1.SubmissionReceivedEvent
	if err := events.Payload(env, &ev); err != nil || ev.GetSubmission().GetId() != sub.Submission.ID ||
		len(ev.GetSubmission().ProtoReflect().GetUnknown()) != 0 {
		t.Errorf("scrubbed legacy event = %v, %v", &ev, err)
	}
}
