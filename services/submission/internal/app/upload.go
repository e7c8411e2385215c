package app

import (
	"bytes"
	"context"
	"errors"
	"io"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/blobstore"
	"github.com/consulta-platform/consulta/pkg/doctype"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
	"github.com/consulta-platform/consulta/services/submission/internal/store"
)

// BlobStore keeps uploaded documents.
type BlobStore interface {
	Put(ctx context.Context, r io.Reader, size int64, mediaType string) (blobstore.Blob, error)
	Delete(ctx context.Context, key string) error
}

// Upload stores a position paper for a consultation that takes submissions.
// The type is recognised by the content (PDF, ODT or DOCX), never by a name.
// Uploads are anonymous, so they are limited per client address (clientIP,
// as for Submit); a document no submission refers to is deleted after a
// grace period (SweepDocuments).
func (a *App) Upload(ctx context.Context, consultationID string, content []byte, clientIP string) (store.Document, error) {
	if a.cfg.Blobs == nil {
		return store.Document{}, apperr.FailedPrecondition("content", "this service stores no documents (no blob store configured)")
	}
	if a.cfg.Limiter != nil && clientIP != "" {
		if err := a.cfg.Limiter.Allow(ctx, LimitUploadsPerIP, clientIP); err != nil {
			return store.Document{}, err
		}
	}
	if int64(len(content)) > a.cfg.MaxDocumentBytes {
		return store.Document{}, apperr.Invalid("content", "the document has %d bytes; the limit is %d", len(content), a.cfg.MaxDocumentBytes)
	}
	c, _, err := a.acceptingConsultation(ctx, consultationID)
	if err != nil {
		return store.Document{}, err
	}
	if !hasFileQuestion(c) {
		return store.Document{}, apperr.FailedPrecondition("consultation_id", "consultation %s asks for no document", consultationID)
	}
	typ, err := doctype.Sniff(bytes.NewReader(content), int64(len(content)))
	var unsupported *doctype.UnsupportedError
	if errors.As(err, &unsupported) {
		return store.Document{}, apperr.Invalid("content", "%s: position papers are PDF, ODT or DOCX, recognised by their content", unsupported.Found)
	}
	if err != nil {
		return store.Document{}, err
	}
	blob, err := a.cfg.Blobs.Put(ctx, bytes.NewReader(content), int64(len(content)), typ.MediaType())
	if err != nil {
		return store.Document{}, err
	}
	doc := store.Document{Key: blob.Key, ConsultationID: consultationID, MediaType: blob.MediaType, SHA256: blob.SHA256, Size: blob.Size,
		CreatedAt: a.clock()}
	return doc, a.store.AddDocument(ctx, doc)
}

func hasFileQuestion(c domain.Consultation) bool {
	for _, q := range c.Questions {
		if q.Kind == domain.KindFile {
			return true
		}
	}
	return false
}
