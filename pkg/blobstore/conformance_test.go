package blobstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
)

// testStore runs the behaviour every Store must have against stores made by
// newStore, one per subtest.
func testStore(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()

	t.Run("PutOpen", func(t *testing.T) {
		s := newStore(t)
		content := []byte("%PDF-1.7 position paper")
		b, err := s.Put(ctx, bytes.NewReader(content), int64(len(content)), "application/pdf")
		if err != nil {
			t.Fatal(err)
		}
		want := Blob{Key: sha256Hex(content), Size: int64(len(content)), MediaType: "application/pdf", SHA256: sha256Hex(content)}
		if b != want {
			t.Fatalf("Put = %+v, want %+v", b, want)
		}
		got, gotBlob := readBlob(t, s, b.Key)
		if !bytes.Equal(got, content) || gotBlob != want {
			t.Fatalf("Open = %q %+v, want %q %+v", got, gotBlob, content, want)
		}
	})

	t.Run("Streams", func(t *testing.T) {
		s := newStore(t)
		content := make([]byte, 3<<20+17)
		rand.Read(content)
		// A reader that is neither a Seeker nor a WriterTo, as an HTTP
		// request body.
		b, err := s.Put(ctx, onlyReader{bytes.NewReader(content)}, int64(len(content)), "application/octet-stream")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := readBlob(t, s, b.Key)
		if !bytes.Equal(got, content) {
			t.Fatal("content read back differs")
		}
	})

	t.Run("Empty", func(t *testing.T) {
		s := newStore(t)
		b, err := s.Put(ctx, strings.NewReader(""), 0, "text/plain")
		if err != nil {
			t.Fatal(err)
		}
		if b.Key != sha256Hex(nil) || b.Size != 0 {
			t.Fatalf("Put = %+v", b)
		}
		got, gb := readBlob(t, s, b.Key)
		if len(got) != 0 || gb.Size != 0 {
			t.Fatalf("Open = %q %+v", got, gb)
		}
	})

	t.Run("SizeMismatch", func(t *testing.T) {
		s := newStore(t)
		content := []byte("twelve bytes")
		for _, size := range []int64{int64(len(content)) - 1, int64(len(content)) + 1, 0} {
			_, err := s.Put(ctx, bytes.NewReader(content), size, "text/plain")
			if !errors.Is(err, ErrSizeMismatch) {
				t.Fatalf("size %d: error %v, want ErrSizeMismatch", size, err)
			}
		}
		// Nothing was stored, under any of the keys it could have had.
		for _, c := range [][]byte{content, content[:len(content)-1], nil} {
			if _, _, err := s.Open(ctx, sha256Hex(c)); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Open after failed Put: error %v, want ErrNotFound", err)
			}
		}
		if _, err := s.Put(ctx, bytes.NewReader(content), -1, "text/plain"); err == nil {
			t.Fatal("Put accepted a negative size")
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		s := newStore(t)
		key := sha256Hex([]byte("never stored"))
		if _, _, err := s.Open(ctx, key); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Open: error %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Fatalf("Delete of an absent blob: %v", err)
		}
	})

	t.Run("InvalidKey", func(t *testing.T) {
		s := newStore(t)
		good := sha256Hex([]byte("x"))
		for _, key := range []string{
			"", "../../etc/passwd", strings.ToUpper(good), good[:63], good + "0",
			"../" + good[3:], good[:62] + "/.", good[:63] + "\x00",
		} {
			if _, _, err := s.Open(ctx, key); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("Open(%q): error %v, want ErrInvalidKey", key, err)
			}
			if err := s.Delete(ctx, key); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("Delete(%q): error %v, want ErrInvalidKey", key, err)
			}
		}
	})

	t.Run("InvalidMediaType", func(t *testing.T) {
		s := newStore(t)
		for _, mt := range []string{"", "pdf", "text/plain; charset", "text/plain\r\nX-Evil: 1"} {
			if _, err := s.Put(ctx, strings.NewReader("x"), 1, mt); err == nil {
				t.Errorf("Put accepted media type %q", mt)
			}
		}
		b, err := s.Put(ctx, strings.NewReader("x"), 1, "Text/Plain; Charset=utf-8")
		if err != nil {
			t.Fatal(err)
		}
		if b.MediaType != "text/plain; charset=utf-8" {
			t.Fatalf("media type %q, want the canonical form", b.MediaType)
		}
		if _, ob := readBlob(t, s, b.Key); ob.MediaType != b.MediaType {
			t.Fatalf("Open: media type %q, want %q", ob.MediaType, b.MediaType)
		}
	})

	t.Run("IdenticalContentTwice", func(t *testing.T) {
		s := newStore(t)
		content := []byte("the same paper, uploaded twice")
		b1, err := s.Put(ctx, bytes.NewReader(content), int64(len(content)), "application/pdf")
		if err != nil {
			t.Fatal(err)
		}
		b2, err := s.Put(ctx, bytes.NewReader(content), int64(len(content)), "application/pdf")
		if err != nil {
			t.Fatal(err)
		}
		if b1 != b2 {
			t.Fatalf("second Put = %+v, want %+v", b2, b1)
		}
		got, _ := readBlob(t, s, b1.Key)
		if !bytes.Equal(got, content) {
			t.Fatal("content read back differs")
		}
		// The same content under another media type: the latest is kept.
		b3, err := s.Put(ctx, bytes.NewReader(content), int64(len(content)), "text/plain")
		if err != nil {
			t.Fatal(err)
		}
		if b3.Key != b1.Key || b3.MediaType != "text/plain" {
			t.Fatalf("third Put = %+v", b3)
		}
		if _, ob := readBlob(t, s, b1.Key); ob.MediaType != "text/plain" {
			t.Fatalf("Open: media type %q, want text/plain", ob.MediaType)
		}
	})

	t.Run("ConcurrentIdenticalPuts", func(t *testing.T) {
		s := newStore(t)
		content := bytes.Repeat([]byte("concurrent "), 10000)
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b, err := s.Put(ctx, bytes.NewReader(content), int64(len(content)), "text/plain")
				if err != nil || b.Key != sha256Hex(content) {
					t.Errorf("Put = %+v, %v", b, err)
				}
			}()
		}
		wg.Wait()
		got, _ := readBlob(t, s, sha256Hex(content))
		if !bytes.Equal(got, content) {
			t.Fatal("content read back differs")
		}
	})

	t.Run("Delete", func(t *testing.T) {
		s := newStore(t)
		content := []byte("withdrawn")
		b, err := s.Put(ctx, bytes.NewReader(content), int64(len(content)), "text/plain")
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := s.Delete(ctx, b.Key); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if _, _, err := s.Open(ctx, b.Key); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Open after Delete: error %v, want ErrNotFound", err)
			}
		}
		// And it can come back.
		if _, err := s.Put(ctx, bytes.NewReader(content), int64(len(content)), "text/plain"); err != nil {
			t.Fatal(err)
		}
		if got, _ := readBlob(t, s, b.Key); !bytes.Equal(got, content) {
			t.Fatal("content read back differs")
		}
	})

	t.Run("ReaderError", func(t *testing.T) {
		s := newStore(t)
		boom := errors.New("client went away")
		r := io.MultiReader(strings.NewReader("partial"), errReader{boom})
		if _, err := s.Put(ctx, r, 100, "text/plain"); !errors.Is(err, boom) {
			t.Fatalf("error %v, want one wrapping %v", err, boom)
		}
	})

	t.Run("CancelledContext", func(t *testing.T) {
		s := newStore(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Put(cctx, strings.NewReader("x"), 1, "text/plain"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Put: error %v, want context.Canceled", err)
		}
		key := sha256Hex([]byte("x"))
		if _, _, err := s.Open(cctx, key); !errors.Is(err, context.Canceled) {
			t.Fatalf("Open: error %v, want context.Canceled", err)
		}
		if err := s.Delete(cctx, key); !errors.Is(err, context.Canceled) {
			t.Fatalf("Delete: error %v, want context.Canceled", err)
		}
	})
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// readBlob opens key and reads it whole.
func readBlob(t *testing.T, s Store, key string) ([]byte, Blob) {
	t.Helper()
	rc, b, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open(%s): %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	return data, b
}

type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
