package grpcserver

import (
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"

	"github.com/consulta-platform/consulta/pkg/apperr"
)

// FieldViolation is one thing wrong with a request: the path of the field
// ("colead_countries[0]", "questions[2].text"; empty for the request as a
// whole) and what is wrong with it.
type FieldViolation struct {
	Field       string
	Description string
}

func (v FieldViolation) String() string {
	if v.Field == "" {
		return v.Description
	}
	return v.Field + ": " + v.Description
}

// InvalidArgument returns a codes.InvalidArgument error naming every
// violation, "invalid request: field: description; ...", with a
// google.rpc.BadRequest detail listing them. Handlers use it for the checks
// that the .proto rules cannot express, so that callers see one shape of
// error whichever layer found the problem.
func InvalidArgument(violations ...FieldViolation) error {
	return invalid("invalid request", violations)
}

// InvalidRequest is InvalidArgument with the request message's name in the
// text: "invalid CreateDialogueRequest: colead_countries[0]: ...". The
// validation interceptor reports protovalidate violations this way.
func InvalidRequest(msgName string, violations ...FieldViolation) error {
	return invalid("invalid "+msgName, violations)
}

func invalid(prefix string, violations []FieldViolation) error {
	errs := make([]*apperr.Error, len(violations))
	for i, v := range violations {
		errs[i] = &apperr.Error{Kind: apperr.KindInvalid, Field: v.Field, Msg: v.Description}
	}
	return apperr.InvalidStatus(prefix, errs...).Err()
}

// FieldViolations returns the violations in err's google.rpc.BadRequest
// details, or nil. It is meant for clients and tests.
func FieldViolations(err error) []FieldViolation {
	var withStatus interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &withStatus) {
		return nil
	}
	var out []FieldViolation
	for _, d := range withStatus.GRPCStatus().Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, fv := range br.GetFieldViolations() {
				out = append(out, FieldViolation{Field: fv.GetField(), Description: fv.GetDescription()})
			}
		}
	}
	return out
}
