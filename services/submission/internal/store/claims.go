package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ClaimIdempotencyKey claims the idempotency key of a create in
// consultationID for claimID. It reports false when another claim holds the
// key and is younger than ttl; an older one (its process died) is taken
// over. A claim is one statement, outside any transaction: it only orders
// concurrent attempts of one request, the unique index on submissions
// still guarantees one submission per key.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, consultationID, key, claimID string, ttl time.Duration) (bool, error) {
	var got string
	err := s.pool.QueryRow(ctx, `INSERT INTO submission.idempotency_claims (consultation_id, idempotency_key, claim_id)
		VALUES ($1, $2, $3)
		ON CONFLICT (consultation_id, idempotency_key) DO UPDATE SET claim_id = EXCLUDED.claim_id, claimed_at = now()
			WHERE submission.idempotency_claims.claimed_at < now() - make_interval(secs => $4)
		RETURNING claim_id::text`, consultationID, key, claimID, ttl.Seconds()).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim idempotency key: %w", err)
	}
	return got == claimID, nil
}

// ReleaseIdempotencyKey gives up the claim claimID on a key, and removes
// claims older than ttl that nobody retried.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, consultationID, key, claimID string, ttl time.Duration) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM submission.idempotency_claims
		WHERE (consultation_id = $1 AND idempotency_key = $2 AND claim_id = $3)
			OR claimed_at < now() - make_interval(secs => $4)`, consultationID, key, claimID, ttl.Seconds()); err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}
