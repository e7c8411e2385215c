package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/consulta-platform/consulta/pkg/events"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
	"github.com/consulta-platform/consulta/pkg/outbox"
	"github.com/consulta-platform/consulta/pkg/postgres"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
)

// StakeholderIndividual is the stakeholder type of people answering for
// themselves: an erasure removes their texts too, not only their contact
// data.
const StakeholderIndividual = "individual"

// matchesAddress selects the submissions that hold address $1, in its
// normal form (domain.NormaliseEmail): every submission whose contact
// address has that normal form, in its current row or in any earlier
// version (an author may have changed the address in an edit), each found
// through the index on submission.normalise_email(contact_email), the same
// normal form in SQL.
const matchesAddress = `(
	s.id IN (SELECT id FROM submission.submissions
		WHERE submission.normalise_email(contact_email) = $1 AND contact_email <> '')
	OR s.id IN (SELECT submission_id FROM submission.submission_versions
		WHERE submission.normalise_email(contact_email) = $1 AND contact_email <> '')
)`

// PersonalRecord is one submission held about an address, with every
// stored version.
type PersonalRecord struct {
	Submission domain.Submission
	// Versions, oldest first; each with its receipt when it has one.
	Versions []PersonalVersion
}

// PersonalVersion is one stored version of a submission.
type PersonalVersion struct {
	Content domain.VersionContent
	Erased  bool
	Receipt *domain.Receipt
}

// ErasureRecord is the audit record of an erasure. The address itself is
// not kept, only a keyed tag of its normalised form (app.Signer.AddressTag);
// records written before tags have none.
type ErasureRecord struct {
	ID            string
	AddressTag    string
	RequestedBy   string
	Reason        string
	SubmissionIDs []string
	ErasedAt      time.Time
}

// PersonalData returns the submissions that hold address (in its normal
// form, domain.NormaliseEmail), oldest first, each with all its versions.
func (s *Store) PersonalData(ctx context.Context, address string) ([]PersonalRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+submissionColumns+` FROM submission.submissions s
		WHERE `+matchesAddress+` ORDER BY s.created_at, s.id`, address)
	if err != nil {
		return nil, fmt.Errorf("personal data: %w", err)
	}
	subs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.Submission, error) { return scanSubmission(r) })
	if err != nil {
		return nil, fmt.Errorf("personal data: %w", err)
	}
	out := make([]PersonalRecord, 0, len(subs))
	for _, sub := range subs {
		versions, err := s.versions(ctx, sub.ConsultationID, sub.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, PersonalRecord{Submission: sub, Versions: versions})
	}
	return out, nil
}

// versions returns every stored version of a submission with its receipt.
func (s *Store) versions(ctx context.Context, consultationID, submissionID string) ([]PersonalVersion, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+versionColumns+`, r.receipt_id IS NOT NULL,
			coalesce(r.receipt_id::text, ''), coalesce(r.seq, 0), coalesce(r.content_digest, ''::bytea),
			coalesce(r.previous_digest, ''::bytea), coalesce(r.chain_digest, ''::bytea), coalesce(r.issued_at, v.created_at)
		FROM submission.submission_versions v
		LEFT JOIN submission.receipts r ON r.submission_id = v.submission_id AND r.version = v.version
		WHERE v.submission_id = $1 ORDER BY v.version`, submissionID)
	if err != nil {
		return nil, fmt.Errorf("versions of %s: %w", submissionID, err)
	}
	defer rows.Close()
	var out []PersonalVersion
	for rows.Next() {
		var pv PersonalVersion
		var answers []byte
		var hasReceipt bool
		var rc domain.Receipt
		v := &pv.Content
		v.ConsultationID = consultationID
		r := &v.Respondent
		if err := rows.Scan(&v.SubmissionID, &v.Version, &r.StakeholderType, &r.Country, &r.Region, &r.OrganisationName,
			&r.PersonName, &r.TransparencyRegisterID, &r.ContactEmail, &v.Language, &answers, &v.Publication, &v.Withdrawn,
			&v.CreatedAt, &pv.Erased, &hasReceipt, &rc.ID, &rc.Sequence, &rc.ContentDigest, &rc.PreviousDigest,
			&rc.ChainDigest, &rc.IssuedAt); err != nil {
			return nil, fmt.Errorf("versions of %s: %w", submissionID, err)
		}
		if err := json.Unmarshal(answers, &v.Answers); err != nil {
			return nil, fmt.Errorf("decode answers of %s v%d: %w", submissionID, v.Version, err)
		}
		if hasReceipt {
			rc.ConsultationID, rc.SubmissionID, rc.Version = consultationID, submissionID, v.Version
			pv.Receipt = &rc
		}
		out = append(out, pv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("versions of %s: %w", submissionID, err)
	}
	return out, nil
}

// Erasures returns the audit records of erasures whose tag is one of
// addressTags (the tags one address had under successive normal forms),
// oldest first.
func (s *Store) Erasures(ctx context.Context, addressTags ...string) ([]ErasureRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT id::text, coalesce(address_tag, ''), requested_by, reason, submission_ids::text[], erased_at
		FROM submission.erasures WHERE address_tag = ANY($1) ORDER BY erased_at, id`, addressTags)
	if err != nil {
		return nil, fmt.Errorf("erasures: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ErasureRecord, error) {
		var e ErasureRecord
		err := r.Scan(&e.ID, &e.AddressTag, &e.RequestedBy, &e.Reason, &e.SubmissionIDs, &e.ErasedAt)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("erasures: %w", err)
	}
	return out, nil
}

// ErasedSubmission is a submission an erasure overwrote.
type ErasedSubmission struct {
	ID, ConsultationID string
	Version            int64
	// Individual: an individual's submission, whose texts were removed too.
	Individual bool
}

// EraseFunc makes the events of an erasure once the store knows which
// submissions it covers.
type EraseFunc func(erased []ErasedSubmission) ([]*eventsv1.Envelope, error)

// Erase overwrites the personal data held about address (in its normal
// form, domain.NormaliseEmail) in one
// transaction: contact address and person's name in every submission that
// holds it and in all their versions; for individuals also the organisation
// name and the texts of text answers and file answers (choices, scales and
// rankings stay); the request hash and the author's account link, which tie
// a submission to a person; the address's mail waiting in the mail outbox;
// and whatever events written by earlier versions carried in the outbox,
// published or not (see scrubOutbox), so that neither this schema nor a
// later publication holds it.
// Versions and receipts are kept: the rows are marked erased; their
// receipt keys are deleted (and an individual's content salt), so that
// nothing stored confirms a guess of what was erased, and verification
// rechecks what is left (docs/receipts.md). rec is written
// as the audit record, with the ids of the submissions filled in, and the
// events made by events are added to the outbox. Erase returns nil, nil
// when nothing is held about the address, and writes nothing then.
//
// Documents that only the individuals' submissions referenced lose their
// row in submission.documents; their blob keys are returned for the caller
// to delete from the blob store once the transaction has committed.
func (s *Store) Erase(ctx context.Context, address string, rec ErasureRecord, makeEvents EraseFunc) ([]ErasedSubmission, []string, error) {
	var erased []ErasedSubmission
	var orphanBlobs []string
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		erased, orphanBlobs = nil, nil
		rows, err := tx.Query(ctx, `SELECT s.id::text, s.consultation_id::text, s.version,
				s.stakeholder_type = $2 OR EXISTS (SELECT 1 FROM submission.submission_versions v
					WHERE v.submission_id = s.id AND v.stakeholder_type = $2)
			FROM submission.submissions s WHERE `+matchesAddress+` ORDER BY s.id FOR UPDATE OF s`, address, StakeholderIndividual)
		if err != nil {
			return fmt.Errorf("erase: find submissions: %w", err)
		}
		erased, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ErasedSubmission, error) {
			var e ErasedSubmission
			err := r.Scan(&e.ID, &e.ConsultationID, &e.Version, &e.Individual)
			return e, err
		})
		if err != nil {
			return fmt.Errorf("erase: find submissions: %w", err)
		}
		if len(erased) == 0 {
			return nil
		}
		var all, individuals []string
		for _, e := range erased {
			all = append(all, e.ID)
			if e.Individual {
				individuals = append(individuals, e.ID)
			}
		}
		// The documents the individuals attached, before their references go.
		blobRows, err := tx.Query(ctx, `SELECT DISTINCT a->>'blob_id' FROM submission.submission_versions v,
				jsonb_array_elements(v.answers) a
			WHERE v.submission_id = ANY($1::uuid[]) AND a->>'kind' = 'file' AND a->>'blob_id' <> ''`, individuals)
		if err != nil {
			return fmt.Errorf("erase: documents: %w", err)
		}
		blobs, err := pgx.CollectRows(blobRows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("erase: documents: %w", err)
		}
		// Texts of individuals: the "text" of text answers and the
		// "blob_id" of file answers go; everything else of an answer stays.
		const scrubAnswers = `(SELECT coalesce(jsonb_agg(CASE a->>'kind' WHEN 'text' THEN a - 'text'
				WHEN 'file' THEN a - 'blob_id' ELSE a END ORDER BY t.ord), '[]'::jsonb)
			FROM jsonb_array_elements(answers) WITH ORDINALITY AS t(a, ord))`
		if _, err := tx.Exec(ctx, `UPDATE submission.submissions
			SET contact_email = '', person_name = '', created_by = '', request_hash = NULL,
			    organisation_name = CASE WHEN id = ANY($2::uuid[]) THEN '' ELSE organisation_name END,
			    answers = CASE WHEN id = ANY($2::uuid[]) THEN `+scrubAnswers+` ELSE answers END,
			    erased_at = $3, updated_at = $3
			WHERE id = ANY($1::uuid[])`, all, individuals, rec.ErasedAt); err != nil {
			return fmt.Errorf("erase: submissions: %w", err)
		}
		// The receipt keys go too: with a key, the erased fields could be
		// checked against the receipt's digest. An individual's content
		// salt goes as well, since their texts are theirs; an
		// organisation's stays, so that its content is still checked.
		if _, err := tx.Exec(ctx, `UPDATE submission.submission_versions
			SET contact_email = '', person_name = '', receipt_key = NULL,
			    organisation_name = CASE WHEN submission_id = ANY($2::uuid[]) THEN '' ELSE organisation_name END,
			    answers = CASE WHEN submission_id = ANY($2::uuid[]) THEN `+scrubAnswers+` ELSE answers END,
			    content_salt = CASE WHEN submission_id = ANY($2::uuid[]) THEN NULL ELSE content_salt END,
			    erased_at = $3
			WHERE submission_id = ANY($1::uuid[])`, all, individuals, rec.ErasedAt); err != nil {
			return fmt.Errorf("erase: versions: %w", err)
		}
		// Translations of an individual's texts go with the texts, and so do
		// the memory entries of those texts, even when another submission
		// holds the same text: the memory is a cache, and the worst that
		// deleting an entry does is one more call to the translator.
		if _, err := tx.Exec(ctx, `DELETE FROM submission.translation_memory
			WHERE source_hash IN (SELECT source_hash FROM submission.translations WHERE submission_id = ANY($1::uuid[]))`,
			individuals); err != nil {
			return fmt.Errorf("erase: translation memory: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM submission.translations WHERE submission_id = ANY($1::uuid[])`,
			individuals); err != nil {
			return fmt.Errorf("erase: translations: %w", err)
		}
		// A document nobody else attached is the individual's alone: it goes.
		for _, key := range blobs {
			tag, err := tx.Exec(ctx, `DELETE FROM submission.documents d WHERE d.blob_key = $1 AND NOT EXISTS (
				SELECT 1 FROM submission.submission_versions v, jsonb_array_elements(v.answers) a
				WHERE a->>'kind' = 'file' AND a->>'blob_id' = $1)`, key)
			if err != nil {
				return fmt.Errorf("erase: document %s: %w", key, err)
			}
			if tag.RowsAffected() > 0 {
				orphanBlobs = append(orphanBlobs, key)
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM submission.mail_outbox WHERE submission.normalise_email(to_address) = $1`, address); err != nil {
			return fmt.Errorf("erase: mail outbox: %w", err)
		}
		if err := scrubOutbox(ctx, tx, all); err != nil {
			return err
		}
		rec.SubmissionIDs = all
		if _, err := tx.Exec(ctx, `INSERT INTO submission.erasures
			(id, address_tag, requested_by, reason, submission_ids, erased_at) VALUES ($1,$2,$3,$4,$5::uuid[],$6)`,
			rec.ID, rec.AddressTag, rec.RequestedBy, rec.Reason, rec.SubmissionIDs, rec.ErasedAt); err != nil {
			return fmt.Errorf("erase: audit record: %w", err)
		}
		envs, err := makeEvents(erased)
		if err != nil {
			return err
		}
		return outbox.Add(ctx, tx, Schema, envs...)
	})
	if err != nil {
		return nil, nil, err
	}
	return erased, orphanBlobs, nil
}

// scrubOutbox rewrites the outbox's events about the submissions ids,
// published or not, keeping only what the current event definitions hold.
// Events made by this version carry no personal data and no free text, so
// for them this changes nothing; events written before carried the texts
// and organisation names of their submissions (fields since reserved), which
// decoding drops as unknown fields. The rows are found by the submission id
// in their payload (the envelope's aggregate id) and checked by decoding.
func scrubOutbox(ctx context.Context, tx pgx.Tx, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT seq, payload FROM submission.outbox
		WHERE subject LIKE 'consulta.submission.%' AND EXISTS (SELECT 1 FROM unnest($1::text[]) AS id
			WHERE position(convert_to(id, 'UTF8') IN payload) > 0)
		ORDER BY seq FOR UPDATE`, ids)
	if err != nil {
		return fmt.Errorf("erase: outbox: %w", err)
	}
	type row struct {
		seq     int64
		payload []byte
	}
	found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.seq, &x.payload)
		return x, err
	})
	if err != nil {
		return fmt.Errorf("erase: outbox: %w", err)
	}
	wanted := make(map[string]bool, len(ids))
	for _, id := range ids {
		wanted[id] = true
	}
	known := proto.UnmarshalOptions{DiscardUnknown: true}
	for _, x := range found {
		env := &eventsv1.Envelope{}
		if err := known.Unmarshal(x.payload, env); err != nil {
			return fmt.Errorf("erase: outbox row %d: %w", x.seq, err)
		}
		if !wanted[env.GetAggregateId()] || env.GetPayload() == nil {
			continue
		}
		msg, err := anypb.UnmarshalNew(env.GetPayload(), known)
		if err != nil {
			return fmt.Errorf("erase: outbox row %d: %w", x.seq, err)
		}
		if env.Payload, err = anypb.New(msg); err != nil {
			return fmt.Errorf("erase: outbox row %d: %w", x.seq, err)
		}
		b, err := events.Marshal(env)
		if err != nil {
			return fmt.Errorf("erase: outbox row %d: %w", x.seq, err)
		}
		if bytes.Equal(b, x.payload) {
			continue
		}
		if _, err := tx.Exec(ctx, `UPDATE submission.outbox SET payload = $2 WHERE seq = $1`, x.seq, b); err != nil {
			return fmt.Errorf("erase: outbox row %d: %w", x.seq, err)
		}
	}
	return nil
}
