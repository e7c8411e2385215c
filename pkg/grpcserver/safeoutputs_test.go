package grpcserver_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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

// TestHugeKidStaysOutOfErrorsAndLogs: a token whose kid is 100 KB is
// Unauthenticated with a short message, and its log line is short too.
func TestHugeKidStaysOutOfErrorsAndLogs(t *testing.T) {
	e := newEnv(t)
	enc := base64.RawURLEncoding.EncodeToString
	huge := strings.Repeat("k", 100<<10)
	token := enc([]byte(`{"alg":"EdDSA","typ":"JWT","kid":"`+huge+`"}`)) + "." + enc([]byte(`{"sub":"x"}`)) + "." + enc([]byte("sig"))
	_, err := e.summary.GetSummary(withToken(token), &summaryv1.GetSummaryRequest{ConsultationId: okID})
	wantCode(t, err, codes.Unauthenticated, "unknown key id")
	if msg := status.Convert(err).Message(); len(msg) > 200 {
		t.Errorf("the answer echoes the kid: %d bytes", len(msg))
	}
	lines := e.logs.lines(t, "grpc call")
	if len(lines) != 1 {
		t.Fatalf("%d log lines", len(lines))
	}
	if b, _ := json.Marshal(lines[0]); len(b) > 500 {
		t.Errorf("the log line echoes the kid: %d bytes", len(b))
	}
}
