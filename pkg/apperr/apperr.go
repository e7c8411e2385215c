// Package apperr is the vocabulary of domain errors shared by every service:
// a kind (not found, invalid, failed precondition, conflict, denied) and the
// field it concerns. Domain code and handlers return these; the gRPC edge
// (pkg/grpcserver) translates them to status codes in one place with Status.
package apperr

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Kind classifies a domain error.
type Kind int

const (
	// KindInvalid is bad input: a value the caller must change.
	KindInvalid Kind = iota + 1
	// KindNotFound is a reference to something that does not exist.
	KindNotFound
	// KindFailedPrecondition is input that is fine but not in the current state
	// (a submission to a closed consultation).
	KindFailedPrecondition
	// KindConflict is a stale version in optimistic concurrency.
	KindConflict
	// KindDenied is an authenticated caller acting outside its scope.
	KindDenied
	// KindAlreadyExists is a create of something that exists.
	KindAlreadyExists
)

// Error is a domain error about one field (Field may be empty).
type Error struct {
	Kind  Kind
	Field string
	Msg   string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

func newErr(k Kind, field, format string, args ...any) error {
	return &Error{Kind: k, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Invalid reports bad input in field.
func Invalid(field, format string, args ...any) error {
	return newErr(KindInvalid, field, format, args...)
}

// NotFound reports that the thing field refers to does not exist.
func NotFound(field, format string, args ...any) error {
	return newErr(KindNotFound, field, format, args...)
}

// FailedPrecondition reports that the request does not fit the current state.
func FailedPrecondition(field, format string, args ...any) error {
	return newErr(KindFailedPrecondition, field, format, args...)
}

// Conflict reports a stale version.
func Conflict(field, format string, args ...any) error {
	return newErr(KindConflict, field, format, args...)
}

// Denied reports a caller acting outside its scope.
func Denied(format string, args ...any) error {
	return newErr(KindDenied, "", format, args...)
}

// AlreadyExists reports a create of something that exists.
func AlreadyExists(field, format string, args ...any) error {
	return newErr(KindAlreadyExists, field, format, args...)
}

// List gathers several invalid-input errors so that a caller learns every
// problem at once. It is itself an error of KindInvalid.
type List []*Error

func (l List) Error() string {
	s := ""
	for i, e := range l {
		if i > 0 {
			s += "; "
		}
		s += e.Error()
	}
	return s
}

// Add appends an invalid-input error about field.
func (l *List) Add(field, format string, args ...any) {
	*l = append(*l, &Error{Kind: KindInvalid, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// Err returns the list as an error, or nil when it is empty.
func (l List) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

var kindCodes = map[Kind]codes.Code{
	KindInvalid:            codes.InvalidArgument,
	KindNotFound:           codes.NotFound,
	KindFailedPrecondition: codes.FailedPrecondition,
	KindConflict:           codes.Aborted,
	KindDenied:             codes.PermissionDenied,
	KindAlreadyExists:      codes.AlreadyExists,
}

// Status translates a domain error into a gRPC status: its kind gives the
// code, its text the message, and invalid input gains a google.rpc.BadRequest
// detail naming each field. ok is false when err is not a domain error; the
// gRPC edge (pkg/grpcserver) then treats it as internal.
func Status(err error) (st *status.Status, ok bool) {
	var list List
	if errors.As(err, &list) {
		return InvalidStatus("", list...), true
	}
	var e *Error
	if errors.As(err, &e) {
		if e.Kind == KindInvalid {
			return InvalidStatus("", e), true
		}
		return status.New(kindCodes[e.Kind], e.Error()), true
	}
	return nil, false
}

// InvalidStatus is the one shape of an invalid-argument status, whichever
// layer found the problem: "prefix: field: msg; field: msg" with a
// google.rpc.BadRequest detail listing each field.
func InvalidStatus(prefix string, errs ...*Error) *status.Status {
	var b strings.Builder
	b.WriteString(prefix)
	br := &errdetails.BadRequest{}
	for i, e := range errs {
		switch {
		case i > 0:
			b.WriteString("; ")
		case prefix != "":
			b.WriteString(": ")
		}
		b.WriteString(e.Error())
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: e.Field, Description: e.Msg})
	}
	st := status.New(codes.InvalidArgument, b.String())
	if withDetails, err := st.WithDetails(br); err == nil {
		st = withDetails
	}
	return st
}

// IsNotFound reports whether err is a domain not-found error.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == KindNotFound
}
