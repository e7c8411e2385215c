package app

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/auth"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	"github.com/consulta-platform/consulta/pkg/postgres"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
	"github.com/consulta-platform/consulta/services/submission/internal/store"
)

// consultationService stands in for the consultation service behind
// ConsultationSource: what it holds now, and how often it was asked. (The
// read models and everything else are real; the real source, over gRPC, is
// tested end to end in cmd/consulta/internal/platform.)
type consultationService struct {
	mu            sync.Mutex
	consultations map[string]*consultationv1.Consultation
	areas         map[string]*consultationv1.ThematicArea
	down          bool
	calls         int
}

func (s *consultationService) Consultation(_ context.Context, id string) (*consultationv1.Consultation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.down {
		return nil, errUnavailable
	}
	c, ok := s.consultations[id]
	if !ok {
		return nil, apperr.NotFound("id", "%s not found", id)
	}
	return c, nil
}

func (s *consultationService) ThematicArea(_ context.Context, id string) (*consultationv1.ThematicArea, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.down {
		return nil, errUnavailable
	}
	a, ok := s.areas[id]
	if !ok {
		return nil, apperr.NotFound("thematic_area", "%s not found", id)
	}
	return a, nil
}

type unavailable struct{}

func (unavailable) Error() string { return "consultation service unavailable" }

var errUnavailable error = unavailable{}

func newSourceEnv(t *testing.T) (*rightsEnv, *consultationService) {
	e := newRightsEnv(t)
	src := &consultationService{consultations: map[string]*consultationv1.Consultation{}, areas: map[string]*consultationv1.ThematicArea{}}
	e.app.cfg.Source = src
	return e, src
}

func sourceConsultation(id, area string, version int64, st consultationv1.ConsultationStatus) *consultationv1.Consultation {
	return &consultationv1.Consultation{
		Id: id, Version: version, Status: st, ThematicArea: area, Languages: []string{"es"},
		ClosesAt: timestamppb.New(time.Now().Add(30 * 24 * time.Hour)),
		Questions: []*consultationv1.Question{{Id: "vision", Required: true, Kind: &consultationv1.Question_TextQuestion{
			TextQuestion: &consultationv1.TextQuestion{MaxLength: 100}}}},
	}
}

func submitTo(e *rightsEnv, id string, p domain.Publication) (Submitted, error) {
	return e.app.Submit(context.Background(), anyone, SubmitRequest{Submission: domain.Submission{
		ConsultationID: id, Language: "es", Publication: p,
		Respondent: domain.Respondent{StakeholderType: "academia", Country: "MX"},
		Answers:    []domain.Answer{ansText("vision", "Más datos abiertos")},
	}})
}

// TestSubmitReadsThroughWhenTheReadModelLags: a consultation the read model
// does not have, or holds as not yet open, is read from the consultation
// service and stored with the consumer's version guard; only one the
// consultation service does not have either is NotFound, and a service that
// does not answer is an error, never NotFound.
func TestSubmitReadsThroughWhenTheReadModelLags(t *testing.T) {
	t.Parallel()
	e, src := newSourceEnv(t)
	ctx := context.Background()
	open := consultationv1.ConsultationStatus_CONSULTATION_STATUS_OPEN

	// Unknown to the read model, open at the source.
	id := uuid.NewString()
	src.consultations[id] = sourceConsultation(id, "ai_hpc", 3, open)
	if _, err := submitTo(e, id, domain.PublicNamed); err != nil {
		t.Fatalf("submission before the read model heard of the consultation: %v", err)
	}
	if c, err := e.store.Consultation(ctx, id); err != nil || c.Version != 3 || c.Status != domain.StatusOpen || c.ThematicArea != "ai_hpc" {
		t.Errorf("read model after the read-through: %+v, %v", c, err)
	}
	// Once stored, the read model answers alone.
	calls := src.calls
	if _, err := submitTo(e, id, domain.PublicNamed); err != nil || src.calls != calls {
		t.Errorf("second submission: %v, %d calls to the source (want none)", err, src.calls-calls)
	}

	// Held as scheduled by the read model, open at the source.
	late := uuid.NewString()
	e.apply(ReadModel(sourceConsultation(late, "ai_hpc", 2, consultationv1.ConsultationStatus_CONSULTATION_STATUS_SCHEDULED)))
	src.consultations[late] = sourceConsultation(late, "ai_hpc", 3, open)
	if _, err := submitTo(e, late, domain.PublicNamed); err != nil {
		t.Errorf("submission while the read model holds the consultation as scheduled: %v", err)
	}

	// The source is behind the read model: its older state is not stored.
	ahead := uuid.NewString()
	e.apply(ReadModel(sourceConsultation(ahead, "ai_hpc", 5, consultationv1.ConsultationStatus_CONSULTATION_STATUS_CLOSED)))
	src.consultations[ahead] = sourceConsultation(ahead, "ai_hpc", 4, open)
	if _, err := submitTo(e, ahead, domain.PublicNamed); !isKind(err, apperr.KindFailedPrecondition) {
		t.Errorf("submission to a consultation closed at version 5, open at 4 at a lagging source: %v, want FailedPrecondition", err)
	}
	if c, _ := e.store.Consultation(ctx, ahead); c.Version != 5 || c.Status != domain.StatusClosed {
		t.Errorf("an older state replaced a newer one: %+v", c)
	}

	// Genuinely missing.
	if _, err := submitTo(e, uuid.NewString(), domain.PublicNamed); !apperr.IsNotFound(err) {
		t.Errorf("submission to a consultation nobody has: %v, want NotFound", err)
	}
	// The source does not answer: an error, not NotFound, and nothing stored.
	src.down = true
	down := uuid.NewString()
	if _, err := submitTo(e, down, domain.PublicNamed); err == nil || apperr.IsNotFound(err) {
		t.Errorf("submission while the consultation service is down: %v, want an error that is not NotFound", err)
	}
	if _, err := e.store.Consultation(ctx, down); !apperr.IsNotFound(err) {
		t.Errorf("read model of %s after a failed read-through: %v", down, err)
	}
}

func isKind(err error, k apperr.Kind) bool {
	var e *apperr.Error
	return errors.As(err, &e) && e.Kind == k
}

// TestCoLeadsAreTheThematicAreasCurrentOnes: who reads a consultation's
// confidential submissions follows the thematic area's co-leads as the
// reference events set them, whatever the consultation's own events said;
// an area, or a consultation stored before areas were recorded, that the
// read models lack is read from the consultation service once.
func TestCoLeadsAreTheThematicAreasCurrentOnes(t *testing.T) {
	t.Parallel()
	e, src := newSourceEnv(t)
	ctx := context.Background()
	open := consultationv1.ConsultationStatus_CONSULTATION_STATUS_OPEN
	id := uuid.NewString()
	pc := sourceConsultation(id, "ai_hpc", 2, open)
	pc.ColeadCountries = []string{"MX", "FR"} // the copy in the consultation's events
	e.apply(ReadModel(pc))
	secret, err := submitTo(e, id, domain.Confidential)
	if err != nil {
		t.Fatal(err)
	}
	// sees reports whether a co-lead of country reads the confidential
	// submission, by GetSubmission and in the listing.
	sees := func(country string) bool {
		t.Helper()
		p := auth.Principal{Subject: "colead-" + country, Role: auth.RoleColead, Country: country}
		_, getErr := e.app.Get(ctx, p, secret.Submission.ID, "")
		if getErr != nil && !apperr.IsNotFound(getErr) {
			t.Fatalf("get as %s: %v", country, getErr)
		}
		listed, _, err := e.app.List(ctx, p, store.SubmissionFilter{ConsultationID: id}, 0, "")
		if err != nil {
			t.Fatalf("list as %s: %v", country, err)
		}
		if (getErr == nil) != (len(listed) == 1) {
			t.Fatalf("%s: get says %v, the listing has %d submissions", country, getErr, len(listed))
		}
		return getErr == nil
	}
	applyArea := func(version int64, coLeads ...string) {
		t.Helper()
		env := thematicAreaEvent(t, "ai_hpc", version, coLeads...)
		if err := postgres.InTx(ctx, e.pool, func(tx pgx.Tx) error { return ApplyReferenceEvent(ctx, tx, env) }); err != nil {
			t.Fatal(err)
		}
	}

	// The area is not in the read model yet: read through, once.
	src.areas["ai_hpc"] = &consultationv1.ThematicArea{Id: "ai_hpc", Version: 2, ColeadCountries: []string{"AR", "FR"}}
	if !sees("AR") || sees("MX") || !sees("FR") {
		t.Errorf("read through, co-led by AR and FR: AR %v, MX %v, FR %v", sees("AR"), sees("MX"), sees("FR"))
	}
	calls := src.calls
	applyArea(3, "BR", "FR") // AR out, BR in
	if sees("AR") || !sees("BR") || !sees("FR") {
		t.Errorf("co-led by BR and FR: AR %v, BR %v, FR %v", sees("AR"), sees("BR"), sees("FR"))
	}
	applyArea(2, "AR", "FR") // a late, older event changes nothing
	if sees("AR") || !sees("BR") {
		t.Errorf("after an older event: AR %v, BR %v", sees("AR"), sees("BR"))
	}
	if src.calls != calls {
		t.Errorf("%d calls to the source while the read model had the area", src.calls-calls)
	}

	// A consultation stored before the read model recorded areas: its
	// area is read through, at the same version.
	legacy := uuid.NewString()
	old := sourceConsultation(legacy, "", 4, open)
	e.apply(ReadModel(old))
	secret, err = submitTo(e, legacy, domain.Confidential)
	if err != nil {
		t.Fatal(err)
	}
	src.consultations[legacy] = sourceConsultation(legacy, "ai_hpc", 4, open)
	p := auth.Principal{Subject: "colead-BR", Role: auth.RoleColead, Country: "BR"}
	if _, err := e.app.Get(ctx, p, secret.Submission.ID, ""); err != nil {
		t.Errorf("a co-lead reading a submission of a consultation stored without its area: %v", err)
	}
	if c, err := e.store.Consultation(ctx, legacy); err != nil || c.ThematicArea != "ai_hpc" || c.Version != 4 {
		t.Errorf("legacy read model after the read-through: %+v, %v", c, err)
	}
	p.Country, p.Subject = "AR", "colead-AR"
	if _, err := e.app.Get(ctx, p, secret.Submission.ID, ""); !apperr.IsNotFound(err) {
		t.Errorf("a former co-lead reading it: %v, want NotFound", err)
	}
}
