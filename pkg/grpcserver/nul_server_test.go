package grpcserver_test

import (
	"testing"

	"google.golang.org/grpc/codes"

	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	summaryv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/summary/v1"
	"github.com/consulta-platform/consulta/pkg/grpcserver"
)

// TestNULIsRefusedBeforeTheHandler: a string field holding U+0000 is
// InvalidArgument naming the field, for unary calls and for every message of
// a stream, before the handler runs (GetSummary would answer OK for okID),
// and it is logged as the caller's mistake, not as an ERROR.
func TestNULIsRefusedBeforeTheHandler(t *testing.T) {
	e := newEnv(t)
	tok := withToken(e.token(t, secretariat))

	_, err := e.summary.GetSummary(tok, &summaryv1.GetSummaryRequest{ConsultationId: okID + "\x00"})
	wantCode(t, err, codes.InvalidArgument, "invalid GetSummaryRequest: consultation_id: contains a NUL character")
	if fv := grpcserver.FieldViolations(err); len(fv) != 1 || fv[0].Field != "consultation_id" {
		t.Errorf("field violations = %+v", fv)
	}
	// Reported before the other rules, which would name every field.
	_, err = e.consult.CreateDialogue(tok, &consultationv1.CreateDialogueRequest{ThematicArea: "ai", Title: "Diálogo\x00"})
	wantCode(t, err, codes.InvalidArgument, "invalid CreateDialogueRequest: title: contains a NUL character")

	s := e.echoStream(t, withToken(e.token(t, stakeholder)))
	if err := s.SendMsg(&summaryv1.GetSummaryRequest{ConsultationId: okID}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecvMsg(new(summaryv1.GetSummaryResponse)); err != nil {
		t.Fatal(err)
	}
	if err := s.SendMsg(&summaryv1.GetSummaryRequest{ConsultationId: "\x00"}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.RecvMsg(new(summaryv1.GetSummaryResponse)), codes.InvalidArgument, "consultation_id: contains a NUL character")

	for _, l := range e.logs.lines(t, "grpc call") {
		if l["level"] == "ERROR" {
			t.Errorf("a NUL was logged as an error: %v", l)
		}
	}
	if n := len(e.logs.lines(t, "grpc call")); n != 3 {
		t.Errorf("%d log lines, want 3", n)
	}
}
