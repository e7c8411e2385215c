package submission

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consulta-platform/consulta/pkg/apperr"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/services/submission/internal/app"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
	"github.com/consulta-platform/consulta/services/submission/internal/store"
)

// ChainReport is the outcome of checking a consultation's chain of receipts:
// how many receipts it has, how many cover erased versions (whose stored
// digests stand), and the first break, "" when the chain is intact.
type ChainReport = app.ChainReport

// VerifyChain checks the chain of receipts of a consultation straight from
// the database, for `consulta audit verify`: every receipt must link to the
// one before it, the version it covers must exist and, unless erased, still
// have the digest the receipt names; the chain's head must be its last
// receipt, and every submission's latest version must have a receipt.
func VerifyChain(ctx context.Context, pool *pgxpool.Pool, consultationID string) (ChainReport, error) {
	if _, err := uuid.Parse(consultationID); err != nil {
		return ChainReport{}, apperr.Invalid("consultation", "not a consultation id: %v", err)
	}
	st := store.New(pool)
	// Submissions need their consultation in the read model, so a chain
	// without one is an unknown id, not an empty chain.
	if _, err := st.Consultation(ctx, consultationID); err != nil {
		return ChainReport{}, err
	}
	return app.New(st, app.Config{}).VerifyChain(ctx, consultationID)
}

// CheckReceipt is the submitter's check of a receipt, done without asking
// anyone: sub is the submission as a create, update or withdraw response
// gave it, with its receipt, and key the hex receipt key that came with it.
// It succeeds when the receipt's content digest commits to exactly the
// content of sub (respondent with personal fields, language, answers,
// publication, withdrawal, and the receipt's ids, version and time). That
// the receipt is in its consultation's chain is the public check
// (VerifyReceipt, GET /v1/receipts/{id}).
func CheckReceipt(sub *submissionv1.Submission, key string) error {
	r := sub.GetReceipt()
	switch {
	case r == nil:
		return errors.New("the submission has no receipt")
	case r.GetSubmissionId() != sub.GetId() || r.GetConsultationId() != sub.GetConsultationId() || r.GetVersion() != sub.GetVersion():
		return fmt.Errorf("the receipt is for version %d of submission %s, not version %d of %s",
			r.GetVersion(), r.GetSubmissionId(), sub.GetVersion(), sub.GetId())
	case r.GetIssueTime() == nil:
		return errors.New("the receipt has no issue time")
	}
	k, err := domain.ParseReceiptKey(key)
	if err != nil {
		return err
	}
	digest, err := hex.DecodeString(r.GetContentDigest())
	if err != nil {
		return fmt.Errorf("the receipt's content digest is not hex: %w", err)
	}
	p := sub.GetRespondent()
	v := domain.VersionContent{
		ConsultationID: sub.GetConsultationId(), SubmissionID: sub.GetId(), Version: sub.GetVersion(),
		Respondent: domain.Respondent{
			StakeholderType: p.GetStakeholderType(), Country: p.GetCountry(), Region: p.GetRegion(),
			OrganisationName: p.GetOrganisationName(), PersonName: p.GetPersonName(), ContactEmail: p.GetContactEmail(),
			TransparencyRegisterID: p.GetTransparencyRegisterId(),
		},
		Language: sub.GetLanguage(), Answers: app.AnswersFromProto(sub.GetAnswers()),
		Publication: app.PublicationFromProto(sub.GetPublication()),
		Withdrawn:   sub.GetStatus() == submissionv1.SubmissionStatus_SUBMISSION_STATUS_WITHDRAWN,
		// The version's time is the receipt's: the submission's update time
		// moves on a confirmation, which makes no version.
		CreatedAt: r.GetIssueTime().AsTime(),
	}
	return domain.VerifyContent(k, v, digest)
}
