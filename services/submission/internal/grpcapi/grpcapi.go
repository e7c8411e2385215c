// Package grpcapi is the submission service's gRPC edge: requests to domain
// values and back, the caller's address for rate limits, and the request
// hash behind idempotency keys.
package grpcapi

import (
	"context"
	"crypto/sha256"
	"strings"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/clientaddr"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/pkg/geo"
	"github.com/consulta-platform/consulta/services/submission/internal/app"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
	"github.com/consulta-platform/consulta/services/submission/internal/store"
)

// Server implements submissionv1.SubmissionServiceServer.
type Server struct {
	submissionv1.UnimplementedSubmissionServiceServer
	app *app.App
}

// New returns the gRPC server of a.
func New(a *app.App) *Server { return &Server{app: a} }

func respondent(r *submissionv1.Respondent) domain.Respondent {
	return domain.Respondent{
		StakeholderType:        r.GetStakeholderType(),
		Country:                r.GetCountry(),
		OrganisationName:       strings.TrimSpace(r.GetOrganisationName()),
		PersonName:             strings.TrimSpace(r.GetPersonName()),
		ContactEmail:           strings.TrimSpace(r.GetContactEmail()),
		TransparencyRegisterID: r.GetTransparencyRegisterId(),
	}
}

// requestHash identifies what a create asks for, whatever its idempotency
// key: a retry must ask for the same.
func requestHash(r *submissionv1.CreateSubmissionRequest) ([]byte, error) {
	c := proto.Clone(r).(*submissionv1.CreateSubmissionRequest)
	c.IdempotencyKey = ""
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	return sum[:], nil
}

// clientIP is the address the request came from, for rate limits: what the
// clientaddr interceptor found (a trusted gateway's word, or the peer), or
// without it the peer. Never what a caller wrote in its own metadata.
func clientIP(ctx context.Context) string {
	a, ok := clientaddr.FromContext(ctx)
	if !ok {
		a = clientaddr.PeerAddr(ctx)
	}
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// CreateSubmission implements the RPC.
func (s *Server) CreateSubmission(ctx context.Context, r *submissionv1.CreateSubmissionRequest) (*submissionv1.CreateSubmissionResponse, error) {
	hash, err := requestHash(r)
	if err != nil {
		return nil, err
	}
	done, err := s.app.Submit(ctx, auth.FromContext(ctx), app.SubmitRequest{
		Submission: domain.Submission{
			ConsultationID: r.GetConsultationId(),
			Respondent:     respondent(r.GetRespondent()),
			Language:       r.GetLanguage(),
			Answers:        app.AnswersFromProto(r.GetAnswers()),
			Publication:    app.PublicationFromProto(r.GetPublication()),
			IdempotencyKey: r.GetIdempotencyKey(),
			RequestHash:    hash,
		},
		ClientIP: clientIP(ctx),
	})
	if err != nil {
		return nil, err
	}
	return &submissionv1.CreateSubmissionResponse{
		Submission:           app.SubmissionToProto(done.Submission),
		EditSecret:           done.EditSecret,
		ConfirmationRequired: done.ConfirmationRequired,
		ReceiptKey:           hexKey(done.Submission.ReceiptKey),
	}, nil
}

// GetSubmission implements the RPC. The edit secret may come as metadata
// "x-edit-secret", so that authors without an account can read theirs.
func (s *Server) GetSubmission(ctx context.Context, r *submissionv1.GetSubmissionRequest) (*submissionv1.GetSubmissionResponse, error) {
	var secret string
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("x-edit-secret"); len(v) > 0 {
			secret = v[0]
		}
	}
	sub, err := s.app.Get(ctx, auth.FromContext(ctx), r.GetId(), secret)
	if err != nil {
		return nil, err
	}
	return &submissionv1.GetSubmissionResponse{Submission: app.SubmissionToProto(sub)}, nil
}

// UpdateSubmission implements the RPC.
func (s *Server) UpdateSubmission(ctx context.Context, r *submissionv1.UpdateSubmissionRequest) (*submissionv1.UpdateSubmissionResponse, error) {
	sub, err := s.app.Update(ctx, auth.FromContext(ctx), r.GetId(), r.GetVersion(), r.GetEditSecret(), app.Changes{
		Respondent:  respondent(r.GetRespondent()),
		Language:    r.GetLanguage(),
		Answers:     app.AnswersFromProto(r.GetAnswers()),
		Publication: app.PublicationFromProto(r.GetPublication()),
	})
	if err != nil {
		return nil, err
	}
	return &submissionv1.UpdateSubmissionResponse{Submission: app.SubmissionToProto(sub), ReceiptKey: hexKey(sub.ReceiptKey)}, nil
}

// WithdrawSubmission implements the RPC.
func (s *Server) WithdrawSubmission(ctx context.Context, r *submissionv1.WithdrawSubmissionRequest) (*submissionv1.WithdrawSubmissionResponse, error) {
	sub, err := s.app.Withdraw(ctx, auth.FromContext(ctx), r.GetId(), r.GetEditSecret())
	if err != nil {
		return nil, err
	}
	return &submissionv1.WithdrawSubmissionResponse{Submission: app.SubmissionToProto(sub), ReceiptKey: hexKey(sub.ReceiptKey)}, nil
}

// hexKey is the form of a receipt key in responses; "" when there is none
// (an erased submission answered to an idempotent retry).
func hexKey(k []byte) string {
	if len(k) == 0 {
		return ""
	}
	return domain.Hex(k)
}

// ConfirmSubmission implements the RPC.
func (s *Server) ConfirmSubmission(ctx context.Context, r *submissionv1.ConfirmSubmissionRequest) (*submissionv1.ConfirmSubmissionResponse, error) {
	sub, err := s.app.Confirm(ctx, r.GetToken())
	if err != nil {
		return nil, err
	}
	// The link's holder is the author: show what they confirmed, but not the
	// contact data, which the link may have been forwarded with.
	red, _ := sub.Redact(domain.SeeAll)
	return &submissionv1.ConfirmSubmissionResponse{Submission: app.SubmissionToProto(red)}, nil
}

// ListSubmissions implements the RPC.
func (s *Server) ListSubmissions(ctx context.Context, r *submissionv1.ListSubmissionsRequest) (*submissionv1.ListSubmissionsResponse, error) {
	f := store.SubmissionFilter{
		ConsultationID: r.GetConsultationId(), StakeholderType: r.GetStakeholderType(),
		Country: r.GetCountry(), Region: r.GetRegion(),
	}
	if r.GetLanguage() != "" {
		lang, err := geo.Language(r.GetLanguage())
		if err != nil {
			return nil, apperr.Invalid("language", "%v", err)
		}
		f.Language = lang
	}
	if r.GetSubmittedAfter() != nil {
		f.After = r.GetSubmittedAfter().AsTime()
	}
	if r.GetSubmittedBefore() != nil {
		f.Before = r.GetSubmittedBefore().AsTime()
	}
	subs, next, err := s.app.List(ctx, auth.FromContext(ctx), f, int(r.GetPageSize()), r.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &submissionv1.ListSubmissionsResponse{NextPageToken: next}
	for _, sub := range subs {
		out.Submissions = append(out.Submissions, app.SubmissionToProto(sub))
	}
	return out, nil
}

// VerifyReceipt implements the RPC.
func (s *Server) VerifyReceipt(ctx context.Context, r *submissionv1.VerifyReceiptRequest) (*submissionv1.VerifyReceiptResponse, error) {
	check, err := s.app.VerifyReceipt(ctx, r.GetReceiptId(), r.GetContentDigest())
	if err != nil {
		return nil, err
	}
	rec := check.Receipt
	return &submissionv1.VerifyReceiptResponse{Valid: check.Valid, Reason: check.Reason, Receipt: app.ReceiptToProto(&rec)}, nil
}

// UploadDocument implements the RPC.
func (s *Server) UploadDocument(ctx context.Context, r *submissionv1.UploadDocumentRequest) (*submissionv1.UploadDocumentResponse, error) {
	doc, err := s.app.Upload(ctx, r.GetConsultationId(), r.GetContent(), clientIP(ctx))
	if err != nil {
		return nil, err
	}
	return &submissionv1.UploadDocumentResponse{
		File: &submissionv1.FileRef{BlobId: doc.Key}, MediaType: doc.MediaType, SizeBytes: doc.Size,
	}, nil
}
