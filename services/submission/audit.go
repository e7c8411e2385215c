package submission

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/services/submission/internal/app"
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
