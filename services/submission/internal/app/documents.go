package app

import (
	"context"
	"log/slog"
	"time"
)

// Defaults of the sweeper of unreferenced documents.
const (
	// DefaultDocumentGrace is how long an uploaded document waits for a
	// submission to name it: a respondent uploads, then writes the answers.
	DefaultDocumentGrace = 24 * time.Hour
	// DefaultDocumentSweepInterval is the time between two sweeps.
	DefaultDocumentSweepInterval = 10 * time.Minute
	// sweepBatch bounds the documents one transaction deletes.
	sweepBatch = 100
)

// SweepDocuments deletes the documents that no submission names and that
// were uploaded more than the grace period ago: uploads are anonymous, and
// without this anyone could fill the blob store. It returns how many it
// deleted.
//
// Nothing here runs inside a transaction but the deletion of the rows: the
// candidates are read first, the rows deleted in a short transaction that
// checks again under a lock (store.DeleteUnreferencedDocuments), and the
// bytes deleted from the blob store after the commit. A failure to delete
// bytes is logged: they stay in the store, unreachable, and never named.
func (a *App) SweepDocuments(ctx context.Context, log *slog.Logger) (int, error) {
	cutoff := a.clock().Add(-a.cfg.DocumentGrace)
	total := 0
	for {
		keys, err := a.store.UnreferencedDocuments(ctx, cutoff, sweepBatch)
		if err != nil || len(keys) == 0 {
			return total, err
		}
		deleted, err := a.store.DeleteUnreferencedDocuments(ctx, keys, cutoff)
		if err != nil {
			return total, err
		}
		total += len(deleted)
		for _, key := range deleted {
			a.deleteBlob(ctx, log, key)
		}
		if len(keys) < sweepBatch || len(deleted) == 0 {
			return total, nil
		}
	}
}

// deleteBlob deletes the bytes of a document whose row is gone.
func (a *App) deleteBlob(ctx context.Context, log *slog.Logger, key string) {
	if a.cfg.Blobs == nil {
		return
	}
	if err := a.cfg.Blobs.Delete(ctx, key); err != nil {
		log.ErrorContext(ctx, "unreferenced document: bytes not deleted; delete them by hand", "blob_key", key, "err", err)
		return
	}
	// The same content uploaded again between the commit and the deletion
	// has a row again, and its bytes were just deleted: a row must not
	// name bytes that are gone, so it goes too while nothing names it (the
	// uploader is told to upload again when they submit).
	again, err := a.store.DocumentExists(ctx, key)
	if err != nil || !again {
		return
	}
	if gone, err := a.store.DeleteUnreferencedDocuments(ctx, []string{key}, a.clock().Add(time.Hour)); err != nil || len(gone) == 0 {
		log.ErrorContext(ctx, "document uploaded again while its bytes were deleted; it must be uploaded once more", "blob_key", key, "err", err)
	}
}

// RunDocumentSweeper sweeps at start and every interval until ctx ends.
func (a *App) RunDocumentSweeper(ctx context.Context, log *slog.Logger, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := a.SweepDocuments(ctx, log); err != nil && ctx.Err() == nil {
			log.ErrorContext(ctx, "deleting unreferenced documents", "err", err)
		} else if n > 0 {
			log.InfoContext(ctx, "unreferenced documents deleted", "count", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
