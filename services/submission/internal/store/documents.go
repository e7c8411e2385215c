package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/postgres"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
)

// referenced is true when some version of some submission names the
// document d as a file answer (the GIN index on answers serves it).
const referenced = `EXISTS (SELECT 1 FROM submission.submission_versions v
	WHERE v.answers @> jsonb_build_array(jsonb_build_object('kind', 'file', 'blob_id', d.blob_key)))`

// UnreferencedDocuments returns up to limit documents uploaded before
// cutoff that no submission version names. They are candidates only:
// DeleteUnreferencedDocuments checks again under a lock.
func (s *Store) UnreferencedDocuments(ctx context.Context, cutoff time.Time, limit int) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT d.blob_key FROM submission.documents d
		WHERE d.created_at < $1 AND NOT `+referenced+` ORDER BY d.created_at LIMIT $2`, cutoff, limit)
	if err != nil {
		return nil, fmt.Errorf("unreferenced documents: %w", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("unreferenced documents: %w", err)
	}
	return keys, nil
}

// DeleteUnreferencedDocuments deletes, in one short transaction, the rows of
// those of keys that are still older than cutoff and still unreferenced,
// and returns their keys: the caller deletes the bytes after the commit.
//
// A submission that names a document locks its row (lockDocuments) in the
// transaction that writes it. Here the rows are locked first, which waits
// for such a transaction to end; the check that follows is a new statement,
// which under READ COMMITTED sees what that transaction committed. A
// submission that comes after the lock waits for this transaction and then
// finds the row gone, and is refused. Either the document stays and is
// named, or it goes and no submission names it.
func (s *Store) DeleteUnreferencedDocuments(ctx context.Context, keys []string, cutoff time.Time) ([]string, error) {
	var deleted []string
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT blob_key FROM submission.documents
			WHERE blob_key = ANY($1) AND created_at < $2 ORDER BY blob_key FOR UPDATE`, keys, cutoff)
		if err != nil {
			return fmt.Errorf("lock documents: %w", err)
		}
		locked, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("lock documents: %w", err)
		}
		if len(locked) == 0 {
			deleted = nil
			return nil
		}
		rows, err = tx.Query(ctx, `DELETE FROM submission.documents d
			WHERE d.blob_key = ANY($1) AND NOT `+referenced+` RETURNING d.blob_key`, locked)
		if err != nil {
			return fmt.Errorf("delete documents: %w", err)
		}
		deleted, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("delete documents: %w", err)
		}
		return nil
	})
	return deleted, err
}

// DocumentExists says whether a row for key exists (again: uploaded anew
// while it was being deleted).
func (s *Store) DocumentExists(ctx context.Context, key string) (bool, error) {
	var ok bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM submission.documents WHERE blob_key = $1)`, key).Scan(&ok); err != nil {
		return false, fmt.Errorf("document %s: %w", key, err)
	}
	return ok, nil
}

// lockDocuments locks the rows of the documents that sub's file answers
// name, for the transaction that writes sub, and refuses a document that is
// gone: the sweeper may have deleted it since the answers were checked.
// The lock keeps the sweeper from deleting it until the transaction ends,
// and then the new version names it.
func lockDocuments(ctx context.Context, tx pgx.Tx, sub *domain.Submission) error {
	var keys []string
	field := map[string]string{}
	for i, a := range sub.Answers {
		if a.Kind == domain.AnswerFile && a.BlobID != "" {
			keys = append(keys, a.BlobID)
			field[a.BlobID] = fmt.Sprintf("answers[%d].file.blob_id", i)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT blob_key FROM submission.documents WHERE blob_key = ANY($1) ORDER BY blob_key FOR SHARE`, keys)
	if err != nil {
		return fmt.Errorf("lock documents: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("lock documents: %w", err)
	}
	have := map[string]bool{}
	for _, k := range found {
		have[k] = true
	}
	for _, k := range keys {
		if !have[k] {
			return apperr.Invalid(field[k], "no document %q was uploaded to this consultation (an upload that no submission named was deleted after its grace period: upload it again)", k)
		}
	}
	return nil
}
