package blobstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newTestFilesystem(t *testing.T) *Filesystem {
	t.Helper()
	fs, err := NewFilesystem(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestFilesystemConformance(t *testing.T) {
	testStore(t, func(t *testing.T) Store { return newTestFilesystem(t) })
}

func TestFilesystemLayout(t *testing.T) {
	fs := newTestFilesystem(t)
	ctx := context.Background()
	content := []byte("a paper")
	b, err := fs.Put(ctx, bytes.NewReader(content), int64(len(content)), "application/pdf")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(fs.Dir(), b.Key[:2], b.Key[2:4], b.Key)
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("content at %s: %q, %v", path, got, err)
	}
	if got, err := os.ReadFile(path + ".type"); err != nil || string(got) != "application/pdf" {
		t.Fatalf("media type at %s.type: %q, %v", path, got, err)
	}
	// Failed uploads leave nothing behind either.
	if _, err := fs.Put(ctx, bytes.NewReader(content), 3, "application/pdf"); !errors.Is(err, ErrSizeMismatch) {
		t.Fatal(err)
	}
	if entries, err := os.ReadDir(filepath.Join(fs.Dir(), "tmp")); err != nil || len(entries) != 0 {
		t.Fatalf("temporary directory holds %v (%v)", entries, err)
	}
}

// TestFilesystemDetectsCorruption changes a stored file behind the store's
// back: reading it to the end must fail.
func TestFilesystemDetectsCorruption(t *testing.T) {
	fs := newTestFilesystem(t)
	ctx := context.Background()
	for _, damage := range []func([]byte) []byte{
		func(b []byte) []byte { b[0] ^= 1; return b },
		func(b []byte) []byte { return b[:len(b)-1] },
		func(b []byte) []byte { return append(b, '!') },
	} {
		content := []byte("the original text of the paper")
		b, err := fs.Put(ctx, bytes.NewReader(content), int64(len(content)), "text/plain")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(fs.Dir(), b.Key[:2], b.Key[2:4], b.Key)
		if err := os.WriteFile(path, damage(bytes.Clone(content)), 0o600); err != nil {
			t.Fatal(err)
		}
		rc, _, err := fs.Open(ctx, b.Key)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(rc)
		rc.Close()
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("reading a damaged blob: error %v, want ErrCorrupt", err)
		}
		if err := fs.Delete(ctx, b.Key); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFilesystemRemovesStaleTemps(t *testing.T) {
	fs := newTestFilesystem(t)
	tmp := filepath.Join(fs.Dir(), "tmp")
	stale, fresh := filepath.Join(tmp, "put-stale"), filepath.Join(tmp, "put-fresh")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("partial upload"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := NewFilesystem(fs.Dir()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary file still there: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temporary file (maybe an upload in progress) removed: %v", err)
	}
}

func TestFilesystemMissingMediaType(t *testing.T) {
	fs := newTestFilesystem(t)
	content := []byte("x")
	b, err := fs.Put(context.Background(), bytes.NewReader(content), 1, "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(fs.Dir(), b.Key[:2], b.Key[2:4], b.Key+".type")); err != nil {
		t.Fatal(err)
	}
	if _, ob := readBlob(t, fs, b.Key); ob.MediaType != "application/octet-stream" {
		t.Fatalf("media type %q, want application/octet-stream", ob.MediaType)
	}
	// A Put of the same content repairs it.
	if _, err := fs.Put(context.Background(), bytes.NewReader(content), 1, "text/plain"); err != nil {
		t.Fatal(err)
	}
	if _, ob := readBlob(t, fs, b.Key); ob.MediaType != "text/plain" {
		t.Fatalf("media type %q, want text/plain", ob.MediaType)
	}
}

func TestNewFilesystemErrors(t *testing.T) {
	if _, err := NewFilesystem(""); err == nil {
		t.Fatal("NewFilesystem accepted an empty directory")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewFilesystem(file); err == nil || !strings.Contains(err.Error(), "blobstore") {
		t.Fatalf("NewFilesystem on a file: %v", err)
	}
}
