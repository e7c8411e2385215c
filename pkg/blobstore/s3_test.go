package blobstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

const (
	testAccessKey = "AKIDCONSULTATEST"
	testSecret    = "s3cr3t/Key+With/Odd=Chars"
	testRegion    = "eu-west-3"
	testBucket    = "consulta-blobs"
)

// startFakeS3 serves fake on an httptest server and returns a config for it.
func startFakeS3(t *testing.T, fake *fakeS3) S3Config {
	t.Helper()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return S3Config{
		Endpoint:        srv.URL,
		Region:          testRegion,
		Bucket:          testBucket,
		AccessKeyID:     testAccessKey,
		SecretAccessKey: testSecret,
		UsePathStyle:    true,
		TempDir:         t.TempDir(),
	}
}

func newTestS3(t *testing.T, cfg S3Config) *S3 {
	t.Helper()
	s, err := NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestS3Conformance(t *testing.T) {
	t.Run("PathStyle", func(t *testing.T) {
		testStore(t, func(t *testing.T) Store {
			return newTestS3(t, startFakeS3(t, newFakeS3(testAccessKey, testSecret, testRegion, testBucket)))
		})
	})
	t.Run("VirtualHostedWithPrefixAndToken", func(t *testing.T) {
		testStore(t, func(t *testing.T) Store {
			fake := newFakeS3(testAccessKey, testSecret, testRegion, testBucket)
			fake.vhostSuffix = ".s3.test"
			fake.sessionToken = "session/token=="
			srv := httptest.NewServer(fake)
			t.Cleanup(srv.Close)
			return newTestS3(t, S3Config{
				Endpoint:        "http://s3.test",
				Region:          testRegion,
				Bucket:          testBucket,
				Prefix:          "consulta/papers/",
				AccessKeyID:     testAccessKey,
				SecretAccessKey: testSecret,
				SessionToken:    fake.sessionToken,
				HTTPClient:      dialingTo(srv.Listener.Addr().String()),
				TempDir:         t.TempDir(),
			})
		})
	})
}

// dialingTo returns a client that connects to addr whatever the host in the
// URL, as a DNS wildcard for virtual-hosted buckets would.
func dialingTo(addr string) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: tr}
}

func TestS3ObjectNamesAndDedup(t *testing.T) {
	fake := newFakeS3(testAccessKey, testSecret, testRegion, testBucket)
	cfg := startFakeS3(t, fake)
	cfg.Prefix = "blobs/"
	s := newTestS3(t, cfg)
	ctx := context.Background()
	content := []byte("a paper")
	b, err := s.Put(ctx, bytes.NewReader(content), int64(len(content)), "application/pdf")
	if err != nil {
		t.Fatal(err)
	}
	o, ok := fake.object(testBucket, "blobs/"+b.Key)
	if !ok || !bytes.Equal(o.data, content) || o.contentType != "application/pdf" {
		t.Fatalf("object blobs/%s = %+v, %v", b.Key, o, ok)
	}
	if n := fake.count(http.MethodPut); n != 1 {
		t.Fatalf("%d PUT requests, want 1", n)
	}
	// The same content again: no second upload.
	if _, err := s.Put(ctx, bytes.NewReader(content), int64(len(content)), "application/pdf"); err != nil {
		t.Fatal(err)
	}
	if n := fake.count(http.MethodPut); n != 1 {
		t.Fatalf("%d PUT requests after an identical Put, want 1", n)
	}
	// Spooled uploads are removed.
	if entries, err := os.ReadDir(cfg.TempDir); err != nil || len(entries) != 0 {
		t.Fatalf("temporary directory holds %v (%v)", entries, err)
	}
}

func TestS3WrongSecret(t *testing.T) {
	cfg := startFakeS3(t, newFakeS3(testAccessKey, testSecret, testRegion, testBucket))
	cfg.SecretAccessKey = "not the secret"
	s := newTestS3(t, cfg)
	ctx := context.Background()

	_, err := s.Put(ctx, strings.NewReader("x"), 1, "text/plain")
	var se *S3Error
	// A HEAD response has no body, so no error code.
	if !errors.As(err, &se) || se.StatusCode != http.StatusForbidden || se.Op != "HEAD" {
		t.Fatalf("Put: error %v, want a 403 on HEAD", err)
	}
	for _, want := range []string{"HEAD", "403 Forbidden"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	key := sha256Hex([]byte("x"))
	_, _, err = s.Open(ctx, key)
	if !errors.As(err, &se) || se.StatusCode != 403 || se.Op != "GET" || se.Code != "SignatureDoesNotMatch" {
		t.Fatalf("Open: error %v, want a 403 SignatureDoesNotMatch on GET", err)
	}
	if want := "blobstore: s3 GET " + key + ": 403 Forbidden: SignatureDoesNotMatch: "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start %q", err, want)
	}
	if err := s.Delete(ctx, key); !errors.As(err, &se) || se.StatusCode != 403 || se.Op != "DELETE" {
		t.Fatalf("Delete: error %v, want a 403 on DELETE", err)
	}
}

// TestS3SignatureCoversRequest changes a signed request in flight: the fake
// server must refuse it, or the test server proves nothing.
func TestS3SignatureCoversRequest(t *testing.T) {
	fake := newFakeS3(testAccessKey, testSecret, testRegion, testBucket)
	cfg := startFakeS3(t, fake)
	for name, tamper := range map[string]func(*http.Request){
		"content type": func(r *http.Request) { r.Header.Set("Content-Type", "text/html") },
		"path":         func(r *http.Request) { r.URL.Path += "0"; r.URL.RawPath = "" },
		"method":       func(r *http.Request) { r.Method = http.MethodPost },
	} {
		t.Run(name, func(t *testing.T) {
			c := cfg
			c.HTTPClient = &http.Client{Transport: tamperingTransport{tamper: tamper}}
			s := newTestS3(t, c)
			_, err := s.Put(context.Background(), strings.NewReader("x"), 1, "text/plain")
			var se *S3Error
			if !errors.As(err, &se) || se.StatusCode != http.StatusForbidden || se.Op != "PUT" || se.Code != "SignatureDoesNotMatch" {
				t.Fatalf("Put through a tampering proxy: error %v, want 403 SignatureDoesNotMatch on PUT", err)
			}
		})
	}
}

type tamperingTransport struct{ tamper func(*http.Request) }

// RoundTrip changes PUT requests after they were signed.
func (tt tamperingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut {
		r = r.Clone(r.Context())
		tt.tamper(r)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestS3MissingBucket(t *testing.T) {
	cfg := startFakeS3(t, newFakeS3(testAccessKey, testSecret, testRegion, testBucket))
	cfg.Bucket = "no-such-bucket"
	s := newTestS3(t, cfg)
	ctx := context.Background()
	var se *S3Error
	if _, _, err := s.Open(ctx, sha256Hex(nil)); errors.Is(err, ErrNotFound) || !errors.As(err, &se) || se.Code != "NoSuchBucket" {
		t.Fatalf("Open: error %v, want NoSuchBucket and not ErrNotFound", err)
	}
	if _, err := s.Put(ctx, strings.NewReader("x"), 1, "text/plain"); !errors.As(err, &se) || se.Code != "NoSuchBucket" || se.Op != "PUT" {
		t.Fatalf("Put: error %v, want NoSuchBucket on PUT", err)
	}
	if err := s.Delete(ctx, sha256Hex(nil)); !errors.As(err, &se) || se.Code != "NoSuchBucket" {
		t.Fatalf("Delete: error %v, want NoSuchBucket", err)
	}
}

func TestS3DetectsCorruption(t *testing.T) {
	fake := newFakeS3(testAccessKey, testSecret, testRegion, testBucket)
	s := newTestS3(t, startFakeS3(t, fake))
	ctx := context.Background()
	content := []byte("the original")
	b, err := s.Put(ctx, bytes.NewReader(content), int64(len(content)), "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	fake.setObject(testBucket, b.Key, fakeObject{data: []byte("the 0riginal"), contentType: "text/plain"})
	rc, _, err := s.Open(ctx, b.Key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(rc); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("error %v, want ErrCorrupt", err)
	}
}

func TestS3ClockSkew(t *testing.T) {
	s := newTestS3(t, startFakeS3(t, newFakeS3(testAccessKey, testSecret, testRegion, testBucket)))
	s.now = func() time.Time { return time.Now().Add(-time.Hour) }
	_, _, err := s.Open(context.Background(), sha256Hex(nil))
	var se *S3Error
	if !errors.As(err, &se) || se.Code != "RequestTimeTooSkewed" {
		t.Fatalf("error %v, want RequestTimeTooSkewed", err)
	}
}

func TestNewS3Errors(t *testing.T) {
	good := S3Config{Bucket: "bucket", AccessKeyID: "a", SecretAccessKey: "s"}
	if s, err := NewS3(good); err != nil {
		t.Fatal(err)
	} else if u := s.objectURL(sha256Hex(nil)).String(); u != "https://bucket.s3.us-east-1.amazonaws.com/"+sha256Hex(nil) {
		t.Fatalf("default object URL %s", u)
	}
	for name, change := range map[string]func(*S3Config){
		"no bucket":          func(c *S3Config) { c.Bucket = "" },
		"bucket with slash":  func(c *S3Config) { c.Bucket = "a/b" },
		"uppercase bucket":   func(c *S3Config) { c.Bucket = "Bucket" },
		"no access key":      func(c *S3Config) { c.AccessKeyID = "" },
		"no secret":          func(c *S3Config) { c.SecretAccessKey = "" },
		"endpoint scheme":    func(c *S3Config) { c.Endpoint = "ftp://host" },
		"endpoint no host":   func(c *S3Config) { c.Endpoint = "http://" },
		"endpoint query":     func(c *S3Config) { c.Endpoint = "http://host?x=1" },
		"prefix traversal":   func(c *S3Config) { c.Prefix = "../other/" },
		"prefix leading":     func(c *S3Config) { c.Prefix = "/blobs/" },
		"prefix odd chars":   func(c *S3Config) { c.Prefix = "blobs?x=1/" },
		"endpoint with user": func(c *S3Config) { c.Endpoint = "http://user:pass@host" },
	} {
		c := good
		change(&c)
		if _, err := NewS3(c); err == nil {
			t.Errorf("%s: NewS3 accepted %+v", name, c)
		}
	}
	c := good
	c.Bucket, c.UsePathStyle, c.Endpoint = "Legacy_Bucket", true, "http://ceph.internal:7480/s3/"
	s, err := NewS3(c)
	if err != nil {
		t.Fatalf("path-style legacy bucket: %v", err)
	}
	if u := s.objectURL(sha256Hex(nil)).String(); u != "http://ceph.internal:7480/s3/Legacy_Bucket/"+sha256Hex(nil) {
		t.Fatalf("object URL %s", u)
	}
}
