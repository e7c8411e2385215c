package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Filesystem is a Store in a directory. A blob with key k lives in
// <dir>/k[0:2]/k[2:4]/k, with its media type in the file next to it named
// k + ".type". Uploads are written to <dir>/tmp, synced, and renamed into
// place, so a blob is either wholly there or not at all, and once Put has
// returned it survives a crash.
//
// Several processes may share the directory (a shared volume in
// microservices mode): every change is a rename.
type Filesystem struct {
	dir string
	tmp string
}

var _ Store = (*Filesystem)(nil)

const (
	tmpDirName    = "tmp"
	typeSuffix    = ".type"
	staleTempsAge = 24 * time.Hour
	dirPerm       = 0o750
)

// NewFilesystem returns a Filesystem store in dir, creating the directory if
// needed. It removes temporary files that crashed uploads left more than a
// day ago.
func NewFilesystem(dir string) (*Filesystem, error) {
	if dir == "" {
		return nil, errors.New("blobstore: filesystem: empty directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("blobstore: filesystem: %w", err)
	}
	f := &Filesystem{dir: abs, tmp: filepath.Join(abs, tmpDirName)}
	if err := os.MkdirAll(f.tmp, dirPerm); err != nil {
		return nil, fmt.Errorf("blobstore: filesystem: %w", err)
	}
	f.removeStaleTemps()
	return f, nil
}

// Dir is the directory of the store.
func (f *Filesystem) Dir() string { return f.dir }

func (f *Filesystem) removeStaleTemps() {
	entries, err := os.ReadDir(f.tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		info, err := e.Info()
		if err == nil && info.Mode().IsRegular() && time.Since(info.ModTime()) > staleTempsAge {
			os.Remove(filepath.Join(f.tmp, e.Name()))
		}
	}
}

// paths returns the shard directory of key, the path of its content and the
// path of its media type. key must be valid.
func (f *Filesystem) paths(key string) (shard, content, typ string) {
	shard = filepath.Join(f.dir, key[0:2], key[2:4])
	content = filepath.Join(shard, key)
	return shard, content, content + typeSuffix
}

// Put implements Store.
func (f *Filesystem) Put(ctx context.Context, r io.Reader, size int64, mediaType string) (Blob, error) {
	mediaType, err := checkPut(ctx, size, mediaType)
	if err != nil {
		return Blob{}, err
	}
	tmp, key, err := spool(ctx, f.tmp, r, size)
	if err != nil {
		return Blob{}, err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return Blob{}, fmt.Errorf("blobstore: put: syncing: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return Blob{}, fmt.Errorf("blobstore: put: %w", err)
	}
	blob := Blob{Key: key, Size: size, MediaType: mediaType, SHA256: key}

	shard, content, typ := f.paths(key)
	if err := os.MkdirAll(shard, dirPerm); err != nil {
		return Blob{}, fmt.Errorf("blobstore: put %s: %w", key, err)
	}
	haveContent := false
	if info, err := os.Stat(content); err == nil && info.Mode().IsRegular() && info.Size() == size {
		haveContent = true
	}
	if old, err := os.ReadFile(typ); err == nil && string(old) == mediaType && haveContent {
		return blob, nil // stored already
	}
	// The media type first, then the content: content is never there
	// without its media type.
	if err := f.writeFile(typ, []byte(mediaType)); err != nil {
		return Blob{}, fmt.Errorf("blobstore: put %s: %w", key, err)
	}
	if !haveContent {
		if err := os.Rename(tmp.Name(), content); err != nil {
			return Blob{}, fmt.Errorf("blobstore: put %s: %w", key, err)
		}
	}
	if err := syncDirs(shard, filepath.Dir(shard), f.dir); err != nil {
		return Blob{}, fmt.Errorf("blobstore: put %s: %w", key, err)
	}
	return blob, nil
}

// writeFile replaces the file at path with data, atomically and durably
// (the directory is synced by the caller).
func (f *Filesystem) writeFile(path string, data []byte) error {
	t, err := os.CreateTemp(f.tmp, "meta-*")
	if err != nil {
		return err
	}
	defer os.Remove(t.Name())
	if _, err := t.Write(data); err != nil {
		t.Close()
		return err
	}
	if err := t.Sync(); err != nil {
		t.Close()
		return err
	}
	if err := t.Close(); err != nil {
		return err
	}
	return os.Rename(t.Name(), path)
}

// syncDirs syncs each directory so that the renames into them last.
func syncDirs(dirs ...string) error {
	for _, dir := range dirs {
		d, err := os.Open(dir)
		if err != nil {
			return err
		}
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("syncing %s: %w", dir, err)
		}
	}
	return nil
}

// Open implements Store.
func (f *Filesystem) Open(ctx context.Context, key string) (io.ReadCloser, Blob, error) {
	if err := ctx.Err(); err != nil {
		return nil, Blob{}, fmt.Errorf("blobstore: open: %w", err)
	}
	if err := checkKey(key); err != nil {
		return nil, Blob{}, err
	}
	_, content, typ := f.paths(key)
	file, err := os.Open(content)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Blob{}, fmt.Errorf("blobstore: open %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, Blob{}, fmt.Errorf("blobstore: open %s: %w", key, err)
	}
	info, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, Blob{}, fmt.Errorf("blobstore: open %s: %w", key, err)
	}
	mediaType := defaultMediaType
	if b, err := os.ReadFile(typ); err == nil && strings.TrimSpace(string(b)) != "" {
		mediaType = strings.TrimSpace(string(b))
	}
	blob := Blob{Key: key, Size: info.Size(), MediaType: mediaType, SHA256: key}
	return newVerifyingReader(file, key, info.Size()), blob, nil
}

// Delete implements Store.
func (f *Filesystem) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("blobstore: delete: %w", err)
	}
	if err := checkKey(key); err != nil {
		return err
	}
	shard, content, typ := f.paths(key)
	// The content first, then its media type: the reverse of Put.
	for _, p := range []string{content, typ} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("blobstore: delete %s: %w", key, err)
		}
	}
	if err := syncDirs(shard); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blobstore: delete %s: %w", key, err)
	}
	return nil
}
