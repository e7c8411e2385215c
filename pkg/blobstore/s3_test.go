package blobstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	testAccessKey = "AKIDCONSULTATEST"
	testSecret    = "s3cr3t/Key+With/Odd=Chars"
	testRegion    = "eu-west-3"
	testBucket    = "consulta-blobs"
)

// startS3Double serves d on an httptest server and returns a config for it.
func startS3Double(t *testing.T, d *s3Double) S3Config {
	t.Helper()
	srv := httptest.NewServer(d)
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

func newDouble() *s3Double {
	return newS3Double(testAccessKey, testSecret, testRegion, "", testBucket)
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
			return newTestS3(t, startS3Double(t, newDouble()))
		})
	})
	t.Run("VirtualHostedWithPrefixAndToken", func(t *testing.T) {
		testStore(t, func(t *testing.T) Store {
			d := newS3Double(testAccessKey, testSecret, testRegion, "s3.test", testBucket)
			d.sessionToken = "session/token=="
			srv := httptest.NewServer(d)
			t.Cleanup(srv.Close)
			return newTestS3(t, S3Config{
				Endpoint:        "http://s3.test",
				Region:          testRegion,
				Bucket:          testBucket,
				Prefix:          "consulta/papers/",
				AccessKeyID:     testAccessKey,
				SecretAccessKey: testSecret,
				SessionToken:    d.sessionToken,
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
	fake := newDouble()
	cfg := startS3Double(t, fake)
	cfg.Prefix = "blobs/"
	s := newTestS3(t, cfg)
	ctx := context.Background()
	content := []byte("a paper")
	b, err := s.Put(ctx, bytes.NewReader(content), int64(len(content)), "application/pdf")
	if err != nil {
		t.Fatal(err)
	}
	data, ct, ok := fake.object(testBucket, "blobs/"+b.Key)
	if !ok || !bytes.Equal(data, content) || ct != "application/pdf" {
		t.Fatalf("object blobs/%s = %q %q, %v", b.Key, data, ct, ok)
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
	cfg := startS3Double(t, newDouble())
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
	cfg := startS3Double(t, newDouble())
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
	cfg := startS3Double(t, newDouble())
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
	fake := newDouble()
	s := newTestS3(t, startS3Double(t, fake))
	ctx := context.Background()
	content := []byte("the original")
	b, err := s.Put(ctx, bytes.NewReader(content), int64(len(content)), "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	fake.setObject(testBucket, b.Key, []byte("the 0riginal"), "text/plain")
	rc, _, err := s.Open(ctx, b.Key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(rc); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("error %v, want ErrCorrupt", err)
	}
}

// TestS3SendsContentSHA256: every upload carries the SHA-256 of its body
// (x-amz-checksum-sha256), which S3 (and the double) check before storing.
func TestS3SendsContentSHA256(t *testing.T) {
	fake := newDouble()
	s := newTestS3(t, startS3Double(t, fake))
	content := []byte("checked by the service")
	b, err := s.Put(context.Background(), bytes.NewReader(content), int64(len(content)), "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	fake.mu.Lock()
	got := fake.checksum
	fake.mu.Unlock()
	if len(got) != 1 || got[0] != base64.StdEncoding.EncodeToString(sum[:]) {
		t.Fatalf("x-amz-checksum-sha256 of the PUTs = %q, want [%s] (key %s)", got, base64.StdEncoding.EncodeToString(sum[:]), b.Key)
	}
}

// TestS3BodyChangedInFlight: a body changed on the way is refused by the
// service, whatever the signature says.
func TestS3BodyChangedInFlight(t *testing.T) {
	cfg := startS3Double(t, newDouble())
	cfg.HTTPClient = &http.Client{Transport: bodySwappingTransport{}}
	s := newTestS3(t, cfg)
	_, err := s.Put(context.Background(), strings.NewReader("genuine"), 7, "text/plain")
	var se *S3Error
	if !errors.As(err, &se) || se.StatusCode != http.StatusBadRequest || se.Op != "PUT" {
		t.Fatalf("Put with its body swapped in flight: error %v, want a 400 on PUT", err)
	}
}

type bodySwappingTransport struct{}

func (bodySwappingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut {
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(strings.NewReader("forged!"))
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestS3RetriesTransientErrors: a 503 from the service is retried (the
// SDK's retryer), with the upload body rewound.
func TestS3RetriesTransientErrors(t *testing.T) {
	fake := newDouble()
	s := newTestS3(t, startS3Double(t, fake))
	ctx := context.Background()
	content := []byte("retried")
	fake.mu.Lock()
	fake.failNext[http.MethodHead] = 1
	fake.failNext[http.MethodPut] = 1
	fake.mu.Unlock()
	b, err := s.Put(ctx, bytes.NewReader(content), int64(len(content)), "text/plain")
	if err != nil {
		t.Fatalf("Put through two transient errors: %v", err)
	}
	if data, _, ok := fake.object(testBucket, b.Key); !ok || !bytes.Equal(data, content) {
		t.Fatalf("object = %q, %v", data, ok)
	}
	if n := fake.count(http.MethodPut); n != 2 {
		t.Fatalf("%d PUT requests, want 2 (one refused, one retried)", n)
	}
	// With retries off, the same error reaches the caller.
	cfg := startS3Double(t, fake)
	cfg.MaxAttempts = 1
	s = newTestS3(t, cfg)
	fake.mu.Lock()
	fake.failNext[http.MethodGet] = 1
	fake.mu.Unlock()
	var se *S3Error
	if _, _, err := s.Open(ctx, b.Key); !errors.As(err, &se) || se.StatusCode != http.StatusServiceUnavailable || se.Code != "SlowDown" {
		t.Fatalf("Open with one attempt: error %v, want 503 SlowDown", err)
	}
}

// TestS3SharedCredentialsFile: with no credentials in the configuration or
// the environment, the SDK's chain reads the shared credentials file.
func TestS3SharedCredentialsFile(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	if err := os.WriteFile(creds, []byte("[consulta]\naws_access_key_id = "+testAccessKey+"\naws_secret_access_key = "+testSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_PROFILE", "consulta")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	cfg := startS3Double(t, newDouble())
	cfg.AccessKeyID, cfg.SecretAccessKey = "", ""
	s := newTestS3(t, cfg)
	if _, err := s.Put(context.Background(), strings.NewReader("x"), 1, "text/plain"); err != nil {
		t.Fatalf("Put with credentials from the shared file: %v", err)
	}
	// And a wrong secret in that file is refused by the service.
	if err := os.WriteFile(creds, []byte("[consulta]\naws_access_key_id = "+testAccessKey+"\naws_secret_access_key = wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s = newTestS3(t, cfg)
	var se *S3Error
	if _, err := s.Put(context.Background(), strings.NewReader("y"), 1, "text/plain"); !errors.As(err, &se) || se.StatusCode != http.StatusForbidden {
		t.Fatalf("Put with a wrong secret in the shared file: error %v, want 403", err)
	}
}

// requestURL returns the URL of the request Open sends.
func requestURL(t *testing.T, cfg S3Config, key string) string {
	t.Helper()
	var got string
	cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r.URL.String()
		return nil, errors.New("not sent")
	})}
	cfg.MaxAttempts = 1
	s := newTestS3(t, cfg)
	if _, _, err := s.Open(context.Background(), key); err == nil {
		t.Fatal("Open succeeded without a service")
	}
	u, _, _ := strings.Cut(got, "?")
	return u
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestNewS3Errors(t *testing.T) {
	good := S3Config{Bucket: "bucket", Region: "us-east-1", AccessKeyID: "a", SecretAccessKey: "s"}
	if u := requestURL(t, good, sha256Hex(nil)); u != "https://bucket.s3.us-east-1.amazonaws.com/"+sha256Hex(nil) {
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
		"negative attempts":  func(c *S3Config) { c.MaxAttempts = -1 },
	} {
		c := good
		change(&c)
		if _, err := NewS3(c); err == nil {
			t.Errorf("%s: NewS3 accepted %+v", name, c)
		}
	}
	c := good
	c.Bucket, c.UsePathStyle, c.Endpoint, c.Prefix = "Legacy_Bucket", true, "http://ceph.internal:7480/s3/", "p/"
	if u := requestURL(t, c, sha256Hex(nil)); u != "http://ceph.internal:7480/s3/Legacy_Bucket/p/"+sha256Hex(nil) {
		t.Fatalf("object URL %s", u)
	}
	// Without credentials, the default chain is used; it is not consulted
	// before the first request.
	c = good
	c.AccessKeyID, c.SecretAccessKey = "", ""
	if _, err := NewS3(c); err != nil {
		t.Fatalf("NewS3 without credentials: %v", err)
	}
}
