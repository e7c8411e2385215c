package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/blobstore"
	"github.com/consulta-platform/consulta/pkg/doctype/doctypetest"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	"github.com/consulta-platform/consulta/pkg/postgres"
	"github.com/consulta-platform/consulta/pkg/testenv"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
	"github.com/consulta-platform/consulta/services/submission/internal/store"
)

// isInvalid reports whether err is a domain bad-input error.
func isInvalid(err error) bool {
	var e *apperr.Error
	return errors.As(err, &e) && e.Kind == apperr.KindInvalid
}

// documentsFixture is an app with a blob store on disk, a clock the test
// moves, and an open consultation with a file question.
type documentsFixture struct {
	app   *App
	pool  *pgxpool.Pool
	blobs *blobstore.Filesystem
	dir   string
	mu    sync.Mutex
	now   time.Time
}

func (f *documentsFixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *documentsFixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func newDocumentsFixture(t *testing.T) *documentsFixture {
	t.Helper()
	ctx := context.Background()
	f := &documentsFixture{pool: testenv.Pool(t), dir: t.TempDir(), now: time.Now().UTC()}
	var err error
	if f.blobs, err = blobstore.NewFilesystem(f.dir); err != nil {
		t.Fatal(err)
	}
	c := consultationAt(3, consultationv1.ConsultationStatus_CONSULTATION_STATUS_OPEN)
	c.Questions = append(c.Questions, &consultationv1.Question{Id: "paper", Kind: &consultationv1.Question_FileQuestion{
		FileQuestion: &consultationv1.FileQuestion{MaxBytes: 1 << 20}}})
	if err := postgres.InTx(ctx, f.pool, func(tx pgx.Tx) error { return store.ApplyConsultation(ctx, tx, ReadModel(c)) }); err != nil {
		t.Fatal(err)
	}
	signer, err := NewSigner([]byte("a test signing key of at least 32 bytes"))
	if err != nil {
		t.Fatal(err)
	}
	f.app = New(store.New(f.pool), Config{Signer: signer, Now: f.clock, Blobs: f.blobs, DocumentGrace: 24 * time.Hour})
	return f
}

func (f *documentsFixture) upload(t *testing.T, text string) string {
	t.Helper()
	doc, err := f.app.Upload(context.Background(), consultationID, doctypetest.TextPDF(text, 0), "192.0.2.1")
	if err != nil {
		t.Fatalf("upload %q: %v", text, err)
	}
	return doc.Key
}

func (f *documentsFixture) submit(key string) error {
	_, err := f.app.Submit(context.Background(), auth.Principal{Role: auth.RolePublic}, SubmitRequest{Submission: domain.Submission{
		ConsultationID: consultationID,
		Respondent:     domain.Respondent{StakeholderType: "academia", Country: "ES"},
		Answers: []domain.Answer{{QuestionID: "q1", Kind: domain.AnswerText, Text: "adjunto"},
			{QuestionID: "paper", Kind: domain.AnswerFile, BlobID: key}},
	}})
	return err
}

// stored says whether key has its row and its bytes.
func (f *documentsFixture) stored(t *testing.T, key string) (row, bytes bool) {
	t.Helper()
	row, err := f.app.store.DocumentExists(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	rc, _, err := f.blobs.Open(context.Background(), key)
	if err == nil {
		rc.Close()
		return row, true
	}
	if !errors.Is(err, blobstore.ErrNotFound) && !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("open %s: %v", key, err)
	}
	return row, false
}

// TestUnreferencedDocumentsAreDeletedAfterTheGracePeriod: a document that
// no submission names is deleted, row and bytes, once the grace period
// since its upload has passed; a named one stays, and so does a recent one.
// Times are relative to the real clock.
func TestUnreferencedDocumentsAreDeletedAfterTheGracePeriod(t *testing.T) {
	ctx := context.Background()
	f := newDocumentsFixture(t)
	log := slog.New(slog.DiscardHandler)
	named, orphan := f.upload(t, "named"), f.upload(t, "orphan")
	if err := f.submit(named); err != nil {
		t.Fatal(err)
	}
	f.advance(23 * time.Hour)
	if n, err := f.app.SweepDocuments(ctx, log); err != nil || n != 0 {
		t.Fatalf("within the grace period: %d deleted, %v", n, err)
	}
	recent := f.upload(t, "recent")
	// The same content uploaded again starts its grace period again.
	again := f.upload(t, "again")
	f.advance(2 * time.Hour)
	if f.upload(t, "again") != again {
		t.Fatal("the same content got another key")
	}
	if n, err := f.app.SweepDocuments(ctx, log); err != nil || n != 1 {
		t.Fatalf("after the grace period: %d deleted, %v; want 1 (the orphan)", n, err)
	}
	if row, b := f.stored(t, orphan); row || b {
		t.Errorf("the unreferenced document is still there (row %v, bytes %v)", row, b)
	}
	for name, key := range map[string]string{"named": named, "recent": recent, "uploaded again": again} {
		if row, b := f.stored(t, key); !row || !b {
			t.Errorf("the %s document was deleted (row %v, bytes %v)", name, row, b)
		}
	}
	// A submission naming the deleted document is refused, naming the field.
	err := f.submit(orphan)
	if !isInvalid(err) || !strings.Contains(err.Error(), "answers[1].file.blob_id") {
		t.Errorf("a submission naming the deleted document: %v", err)
	}
	// The named one stays whatever the time.
	f.advance(30 * 24 * time.Hour)
	if _, err := f.app.SweepDocuments(ctx, log); err != nil {
		t.Fatal(err)
	}
	if row, b := f.stored(t, named); !row || !b {
		t.Errorf("a document a submission names was deleted (row %v, bytes %v)", row, b)
	}
}

// TestSweeperRacesWithASubmission: a submission naming a document and the
// sweep that would delete it, at the same moment, many times. Each time,
// either the submission is accepted and the document stays (row and bytes),
// or the document goes and the submission is refused naming the field:
// never a submission naming a document that is gone.
func TestSweeperRacesWithASubmission(t *testing.T) {
	ctx := context.Background()
	f := newDocumentsFixture(t)
	log := slog.New(slog.DiscardHandler)
	accepted, refused := 0, 0
	for i := range 30 {
		key := f.upload(t, fmt.Sprintf("race %d", i))
		f.advance(25 * time.Hour)
		var subErr, sweepErr error
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() { <-start; subErr = f.submit(key) })
		wg.Go(func() { <-start; _, sweepErr = f.app.SweepDocuments(ctx, log) })
		close(start)
		wg.Wait()
		if sweepErr != nil {
			t.Fatal(sweepErr)
		}
		row, b := f.stored(t, key)
		switch {
		case subErr == nil:
			accepted++
			if !row || !b {
				t.Fatalf("round %d: the submission was accepted but its document is gone (row %v, bytes %v)", i, row, b)
			}
		case isInvalid(subErr) && strings.Contains(subErr.Error(), "answers[1].file.blob_id"):
			refused++
			if row || b {
				t.Fatalf("round %d: the submission was refused but the document stays (row %v, bytes %v)", i, row, b)
			}
		default:
			t.Fatalf("round %d: %v", i, subErr)
		}
	}
	// No version anywhere names a document without a row.
	var dangling int
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM submission.submission_versions v, jsonb_array_elements(v.answers) a
		WHERE a->>'kind' = 'file' AND NOT EXISTS (SELECT 1 FROM submission.documents d WHERE d.blob_key = a->>'blob_id')`).Scan(&dangling); err != nil {
		t.Fatal(err)
	}
	if dangling != 0 {
		t.Errorf("%d submission versions name a deleted document", dangling)
	}
	t.Logf("%d submissions accepted, %d refused", accepted, refused)
}
