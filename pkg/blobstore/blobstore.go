// Package blobstore keeps documents (position papers, background documents)
// by content: the key of a blob is the hex SHA-256 of its bytes, chosen by
// the store, so an identical upload is stored once and a key can be checked
// against what it names.
//
// Two backends implement Store: Filesystem, a directory on a local or shared
// disk (the default), and S3, any S3-compatible object store (AWS S3, MinIO,
// Ceph, Scaleway, ...) spoken to through the AWS SDK for Go v2, which signs
// requests (Signature Version 4), finds and refreshes credentials and
// retries transient failures.
// FromURL picks one from a URL, for configuration.
//
// Both stream: Put copies its input to a temporary file while hashing it
// (the key must be known before the blob is stored), and Open returns a
// reader over the stored bytes that checks them against the key when it
// reaches the end.
package blobstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"os"
	"strings"
)

// Store keeps documents by key. Keys are chosen by the store: the lowercase
// hex SHA-256 of the content, so that an identical upload is stored once.
// The media type is kept with the blob; a Put of content that is already
// stored under another media type records the new one.
type Store interface {
	// Put stores exactly size bytes read from r, streaming them, under
	// media type mediaType. It fails with ErrSizeMismatch if r yields more
	// or fewer bytes, and then stores nothing.
	Put(ctx context.Context, r io.Reader, size int64, mediaType string) (Blob, error)
	// Open returns the content stored under key and its description, or
	// ErrNotFound. The reader fails with ErrCorrupt at its end if the bytes
	// read do not match the key. The caller closes it.
	Open(ctx context.Context, key string) (io.ReadCloser, Blob, error)
	// Delete removes the blob stored under key. Deleting a blob that is not
	// there is not an error.
	Delete(ctx context.Context, key string) error
}

// Blob describes a stored blob.
type Blob struct {
	// Key names the blob in its store; it is the same as SHA256.
	Key string
	// Size is the length of the content in bytes.
	Size int64
	// MediaType is the media type given to Put, in canonical form.
	MediaType string
	// SHA256 is the lowercase hex SHA-256 of the content.
	SHA256 string
}

var (
	// ErrNotFound is returned by Open for a key that names no blob.
	ErrNotFound = errors.New("blob not found")
	// ErrSizeMismatch is returned by Put when the reader yields more or
	// fewer bytes than the size given.
	ErrSizeMismatch = errors.New("content size differs from the declared size")
	// ErrInvalidKey is returned for a key that is not a lowercase hex
	// SHA-256, whatever the backend.
	ErrInvalidKey = errors.New("invalid blob key: want 64 lowercase hex digits")
	// ErrCorrupt is returned by the reader from Open when the stored bytes do
	// not match their key.
	ErrCorrupt = errors.New("stored content does not match its key")
)

// keyLen is the length of a key: a hex SHA-256.
const keyLen = 2 * sha256.Size

// ValidKey tells whether key has the form of a key: 64 lowercase hex digits.
func ValidKey(key string) bool {
	if len(key) != keyLen {
		return false
	}
	for i := range len(key) {
		c := key[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func checkKey(key string) error {
	if !ValidKey(key) {
		return fmt.Errorf("blobstore: key %.80q: %w", key, ErrInvalidKey)
	}
	return nil
}

// defaultMediaType is reported for a blob whose media type is unknown.
const defaultMediaType = "application/octet-stream"

// canonicalMediaType checks mediaType and returns it in canonical form
// (lowercase type and parameter names, parameters sorted).
func canonicalMediaType(mediaType string) (string, error) {
	mt, params, err := mime.ParseMediaType(mediaType)
	if err != nil {
		return "", fmt.Errorf("blobstore: media type %.80q: %w", mediaType, err)
	}
	// ParseMediaType also takes Content-Disposition values: want type/subtype.
	if typ, sub, ok := strings.Cut(mt, "/"); !ok || typ == "" || sub == "" {
		return "", fmt.Errorf("blobstore: media type %.80q: want type/subtype", mediaType)
	}
	out := mime.FormatMediaType(mt, params)
	if out == "" {
		return "", fmt.Errorf("blobstore: media type %.80q cannot be written back", mediaType)
	}
	return out, nil
}

// checkPut validates the arguments of Put and returns the canonical media
// type.
func checkPut(ctx context.Context, size int64, mediaType string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("blobstore: put: %w", err)
	}
	if size < 0 {
		return "", fmt.Errorf("blobstore: put: negative size %d", size)
	}
	return canonicalMediaType(mediaType)
}

// spool copies exactly size bytes of r to a new temporary file in dir,
// hashing them, and returns the file (open, at its end) and the hex SHA-256.
// On error it removes the file. The caller closes and removes it otherwise.
func spool(ctx context.Context, dir string, r io.Reader, size int64) (*os.File, string, error) {
	f, err := os.CreateTemp(dir, "put-*")
	if err != nil {
		return nil, "", fmt.Errorf("blobstore: put: creating temporary file: %w", err)
	}
	fail := func(err error) (*os.File, string, error) {
		f.Close()
		os.Remove(f.Name())
		return nil, "", err
	}
	h := sha256.New()
	// Read one byte more than announced to tell "more" from "exactly".
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(ctxReader{ctx: ctx, r: r}, size+1))
	if err != nil {
		return fail(fmt.Errorf("blobstore: put: reading content: %w", err))
	}
	if n > size {
		return fail(fmt.Errorf("blobstore: put: got more than the %d bytes declared: %w", size, ErrSizeMismatch))
	}
	if n < size {
		return fail(fmt.Errorf("blobstore: put: got %d bytes, %d declared: %w", n, size, ErrSizeMismatch))
	}
	return f, hex.EncodeToString(h.Sum(nil)), nil
}

// ctxReader stops reading once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// verifyingReader hashes what it reads and, at the end, checks the length and
// the hash against what they should be.
type verifyingReader struct {
	r    io.ReadCloser
	key  string
	size int64
	h    hash.Hash
	n    int64
	err  error // sticky error once the end is reached
}

func newVerifyingReader(r io.ReadCloser, key string, size int64) *verifyingReader {
	return &verifyingReader{r: r, key: key, size: size, h: sha256.New()}
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.n > v.size {
		v.err = fmt.Errorf("blobstore: blob %s: more than %d bytes: %w", v.key, v.size, ErrCorrupt)
		return n, v.err
	}
	if errors.Is(err, io.EOF) {
		switch {
		case v.n != v.size:
			v.err = fmt.Errorf("blobstore: blob %s: %d bytes, want %d: %w", v.key, v.n, v.size, ErrCorrupt)
		case hex.EncodeToString(v.h.Sum(nil)) != v.key:
			v.err = fmt.Errorf("blobstore: blob %s: content has another hash: %w", v.key, ErrCorrupt)
		default:
			v.err = io.EOF
		}
		return n, v.err
	}
	return n, err
}

func (v *verifyingReader) Close() error { return v.r.Close() }
