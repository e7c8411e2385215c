package app

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/consulta-platform/consulta/pkg/events"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
)

// submissionEventTypes are the events submissionEvent makes.
var submissionEventTypes = []string{events.SubmissionReceived, events.SubmissionConfirmed, events.SubmissionUpdated,
	events.SubmissionWithdrawn, events.SubmissionExpired}

// TestSubmissionEventsCarryNoPersonalDataNorText builds every submission
// event from a submission with every personal and free-text field set, for
// every stakeholder type and publication choice, and finds none of them in
// the marshalled envelope; and it checks the definitions: no field of a
// submission event's payload, however deep, can hold a text, a name, an
// address or a document reference.
func TestSubmissionEventsCarryNoPersonalDataNorText(t *testing.T) {
	const (
		email    = "privacy.probe@example.org"
		person   = "Ximena Probe-Personal"
		orgName  = "Probe Organisation Name"
		text     = "A text only the respondent wrote, never for the stream"
		blobID   = "sha256-probe-document-digest"
		register = "123456789012-34"
	)
	secrets := []string{email, person, orgName, text, blobID, register}
	now := time.Now()
	for _, stakeholder := range []string{"individual", "civil_society"} {
		for _, pub := range []domain.Publication{domain.PublicNamed, domain.PublicAnonymous, domain.Confidential} {
			sub := domain.Submission{
				ID: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", ConsultationID: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c",
				Respondent: domain.Respondent{StakeholderType: stakeholder, Country: "MX", Region: "LAC",
					OrganisationName: orgName, ContactEmail: email, PersonName: person, TransparencyRegisterID: register},
				Language: "es", Publication: pub, Status: domain.StatusActive, Version: 3,
				Answers: []domain.Answer{
					ansText("vision", text),
					ansChoice("temas", "datos", "talento"),
					ansScale("acuerdo", 4),
					ansRanking("orden", "b", "a"),
					{QuestionID: "paper", Kind: domain.AnswerFile, BlobID: blobID},
				},
				CreatedBy: person, CreatedAt: now, UpdatedAt: now,
			}
			for _, typ := range submissionEventTypes {
				env, err := submissionEvent(typ, sub, now)
				if err != nil {
					t.Fatal(err)
				}
				b, err := events.Marshal(env)
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range secrets {
					if bytes.Contains(b, []byte(s)) {
						t.Errorf("%s of a %s %s submission contains %q", typ, pub, stakeholder, s)
					}
				}
				// What the event is for is still there.
				msg, err := events.Decode(env)
				if err != nil {
					t.Fatal(err)
				}
				snap := msg.(interface {
					GetSubmission() *submissionv1.SubmissionSnapshot
				}).GetSubmission()
				if snap.GetId() != sub.ID || snap.GetStakeholderType() != stakeholder || snap.GetRegion() != "LAC" {
					t.Errorf("%s snapshot = %v", typ, snap)
				}
				if pub == domain.Confidential {
					if len(snap.GetAnswered()) != 0 {
						t.Errorf("%s of a confidential submission carries answers: %v", typ, snap.GetAnswered())
					}
					continue
				}
				a := snap.GetAnswered()
				if len(a) != 5 || a[0].GetText().GetCharacters() != int32(len([]rune(text))) ||
					strings.Join(a[1].GetChoice().GetOptionIds(), ",") != "datos,talento" || a[2].GetScale() != 4 ||
					strings.Join(a[3].GetRanking().GetOptionIds(), ",") != "b,a" || a[4].GetFile() == nil {
					t.Errorf("%s answered = %v", typ, a)
				}
			}
		}
	}

	// The definitions: no field that could carry a text at all.
	forbidden := []string{"text", "organisation_name", "contact_email", "person_name", "blob_id", "transparency_register_id", "respondent"}
	for _, m := range []proto.Message{&submissionv1.SubmissionReceivedEvent{}, &submissionv1.SubmissionConfirmedEvent{},
		&submissionv1.SubmissionUpdatedEvent{}, &submissionv1.SubmissionWithdrawnEvent{}, &submissionv1.SubmissionExpiredEvent{},
		&submissionv1.SubmissionErasedEvent{}} {
		walkFields(m.ProtoReflect().Descriptor(), map[protoreflect.FullName]bool{}, func(f protoreflect.FieldDescriptor) {
			if f.Kind() == protoreflect.StringKind || f.Kind() == protoreflect.BytesKind {
				for _, name := range forbidden {
					if string(f.Name()) == name {
						t.Errorf("%s: field %s can carry free text or personal data", m.ProtoReflect().Descriptor().Name(), f.FullName())
					}
				}
			}
			if f.Kind() == protoreflect.MessageKind && f.Message().FullName() == "consulta.submission.v1.Answer" {
				t.Errorf("%s: field %s carries whole answers", m.ProtoReflect().Descriptor().Name(), f.FullName())
			}
		})
	}
}

// walkFields calls fn on every field of d and of the messages it holds.
func walkFields(d protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool, fn func(protoreflect.FieldDescriptor)) {
	if seen[d.FullName()] {
		return
	}
	seen[d.FullName()] = true
	fields := d.Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		fn(f)
		if f.Message() != nil {
			walkFields(f.Message(), seen, fn)
		}
	}
}
