package blobstore

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// S3Config says where an S3-compatible bucket is and how to sign requests
// to it.
type S3Config struct {
	// Endpoint is the base URL of the service: "https://s3.eu-west-3.amazonaws.com",
	// "https://s3.fr-par.scw.cloud", "http://localhost:9000". It may carry a
	// path, for a service behind a reverse proxy. Default:
	// https://s3.<Region>.amazonaws.com.
	Endpoint string
	// Region is the signing region (default "us-east-1", which MinIO and
	// Ceph accept unless configured otherwise).
	Region string
	// Bucket is the bucket name: 3 to 63 lowercase letters, digits, dots and
	// hyphens (path-style access also allows uppercase and underscores).
	Bucket string
	// Prefix is prepended to every key to make the object name, for a bucket
	// shared with other data: "blobs/". Letters, digits, '/', '.', '_' and
	// '-' only.
	Prefix string
	// AccessKeyID and SecretAccessKey are the credentials; SessionToken is
	// set with temporary credentials only.
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// UsePathStyle addresses objects as <endpoint>/<bucket>/<name> instead of
	// <bucket>.<endpoint host>/<name>. MinIO and most self-hosted services
	// need it.
	UsePathStyle bool
	// HTTPClient sends the requests (default: a client with no overall
	// timeout; requests end with their context).
	HTTPClient *http.Client
	// TempDir is where Put spools uploads to hash them before sending
	// (default: os.TempDir()).
	TempDir string
}

// S3 is a Store in an S3-compatible bucket. The object name of a blob is
// Prefix + key; its media type is the object's Content-Type. Uploads are
// single PUT requests (S3 accepts up to 5 GiB), signed with AWS Signature
// Version 4 including the SHA-256 of the body, which the service checks.
type S3 struct {
	cfg    S3Config
	base   *url.URL
	client *http.Client
	signer signer
	now    func() time.Time
}

var _ Store = (*S3)(nil)

// NewS3 checks cfg and returns an S3 store. It does not contact the service.
func NewS3(cfg S3Config) (*S3, error) {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = "https://s3." + cfg.Region + ".amazonaws.com"
	}
	base, err := url.Parse(cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("blobstore: s3 endpoint: %w", err)
	}
	if (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" || base.User != nil ||
		base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("blobstore: s3 endpoint %q: want http(s)://host[:port][/path]", cfg.Endpoint)
	}
	base.Path = strings.TrimRight(base.Path, "/")
	base.RawPath = ""
	if err := checkBucket(cfg.Bucket, cfg.UsePathStyle); err != nil {
		return nil, err
	}
	if err := checkPrefix(cfg.Prefix); err != nil {
		return nil, err
	}
	if cfg.AccessKeyID == "" || cfg.SecretAccessKey == "" {
		return nil, errors.New("blobstore: s3: access key id and secret access key are required")
	}
	if cfg.TempDir == "" {
		cfg.TempDir = os.TempDir()
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{}
	}
	return &S3{
		cfg:    cfg,
		base:   base,
		client: client,
		signer: signer{
			accessKeyID:     cfg.AccessKeyID,
			secretAccessKey: cfg.SecretAccessKey,
			sessionToken:    cfg.SessionToken,
			region:          cfg.Region,
			service:         "s3",
		},
		now: time.Now,
	}, nil
}

func checkBucket(b string, pathStyle bool) error {
	ok := len(b) >= 3 && len(b) <= 63
	for i := 0; ok && i < len(b); i++ {
		c := b[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '.', c == '-':
		case pathStyle && ('A' <= c && c <= 'Z' || c == '_'):
		default:
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("blobstore: s3 bucket %q: want 3 to 63 lowercase letters, digits, dots and hyphens", b)
	}
	return nil
}

func checkPrefix(p string) error {
	ok := !strings.HasPrefix(p, "/") && !strings.Contains(p, "//") && !strings.Contains(p, "..")
	for i := 0; ok && i < len(p); i++ {
		c := p[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '/' || c == '.' || c == '_' || c == '-'
	}
	if !ok {
		return fmt.Errorf("blobstore: s3 prefix %q: want letters, digits, '/', '.', '_' and '-', not starting with '/'", p)
	}
	return nil
}

// Bucket is the bucket of the store.
func (s *S3) Bucket() string { return s.cfg.Bucket }

// objectURL is the URL of the object that holds key.
func (s *S3) objectURL(key string) *url.URL {
	u := *s.base
	name := s.cfg.Prefix + key
	if s.cfg.UsePathStyle {
		u.Path = s.base.Path + "/" + s.cfg.Bucket + "/" + name
	} else {
		u.Host = s.cfg.Bucket + "." + s.base.Host
		u.Path = s.base.Path + "/" + name
	}
	return &u
}

// S3Error is an error response from the service.
type S3Error struct {
	// Op is the HTTP method of the request: PUT, GET, HEAD or DELETE.
	Op  string
	Key string
	// StatusCode is the HTTP status of the response.
	StatusCode int
	// Code and Message come from the XML error body when there is one:
	// "SignatureDoesNotMatch", "NoSuchBucket", "AccessDenied" ...
	Code    string
	Message string
}

func (e *S3Error) Error() string {
	msg := fmt.Sprintf("blobstore: s3 %s %s: %d %s", e.Op, e.Key, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		msg += ": " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// newS3Error reads the error body of resp (bounded) into an S3Error.
func newS3Error(op, key string, resp *http.Response) error {
	e := &S3Error{Op: op, Key: key, StatusCode: resp.StatusCode}
	var body struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	if data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10)); err == nil && xml.Unmarshal(data, &body) == nil {
		e.Code = strings.TrimSpace(body.Code)
		e.Message = strings.TrimSpace(body.Message)
	}
	return e
}

// notFound tells a missing object (ErrNotFound) from a missing bucket (an
// *S3Error) in a 404 response.
func notFound(op, key string, resp *http.Response) error {
	err := newS3Error(op, key, resp)
	var se *S3Error
	if errors.As(err, &se) && se.Code != "" && se.Code != "NoSuchKey" {
		return err
	}
	return fmt.Errorf("blobstore: s3 %s %s: %w", op, key, ErrNotFound)
}

// do signs and sends a request about key. body may be nil.
func (s *S3) do(ctx context.Context, method, key string, body io.ReaderAt, size int64, payloadHash string, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.objectURL(key).String(), nil)
	if err != nil {
		return nil, fmt.Errorf("blobstore: s3 %s %s: %w", method, key, err)
	}
	if body != nil {
		req.ContentLength = size
		if size == 0 {
			req.Body = http.NoBody
		} else {
			req.GetBody = func() (io.ReadCloser, error) {
				return io.NopCloser(io.NewSectionReader(body, 0, size)), nil
			}
			req.Body, _ = req.GetBody()
		}
	}
	for name, vs := range header {
		req.Header[name] = vs
	}
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	s.signer.sign(req, payloadHash, s.now())
	// After signing, so that a proxy that rewrites it does not break the
	// signature: ask for the bytes as stored, never transparently gunzipped.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("blobstore: s3 %s %s: %w", method, key, err)
	}
	return resp, nil
}

// Put implements Store. It spools the content to a temporary file to hash
// it, asks whether the object is there already (HEAD), and uploads it (PUT)
// unless it is there with the same media type.
func (s *S3) Put(ctx context.Context, r io.Reader, size int64, mediaType string) (Blob, error) {
	mediaType, err := checkPut(ctx, size, mediaType)
	if err != nil {
		return Blob{}, err
	}
	tmp, key, err := spool(ctx, s.cfg.TempDir, r, size)
	if err != nil {
		return Blob{}, err
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	blob := Blob{Key: key, Size: size, MediaType: mediaType, SHA256: key}

	found, err := s.head(ctx, key)
	if err != nil {
		return Blob{}, err
	}
	if found != nil && found.Size == size && found.MediaType == mediaType {
		return blob, nil
	}
	resp, err := s.do(ctx, http.MethodPut, key, tmp, size, key, http.Header{"Content-Type": {mediaType}})
	if err != nil {
		return Blob{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return Blob{}, newS3Error(http.MethodPut, key, resp)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return blob, nil
}

// head describes the object holding key, or returns nil if there is none.
func (s *S3) head(ctx context.Context, key string) (*Blob, error) {
	resp, err := s.do(ctx, http.MethodHead, key, nil, 0, emptySHA256, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, nil
	case resp.StatusCode/100 != 2:
		return nil, newS3Error(http.MethodHead, key, resp)
	}
	return s.blobFrom(key, resp), nil
}

func (s *S3) blobFrom(key string, resp *http.Response) *Blob {
	mt := resp.Header.Get("Content-Type")
	if canon, err := canonicalMediaType(mt); err == nil {
		mt = canon
	} else {
		mt = defaultMediaType
	}
	return &Blob{Key: key, Size: resp.ContentLength, MediaType: mt, SHA256: key}
}

// Open implements Store.
func (s *S3) Open(ctx context.Context, key string) (io.ReadCloser, Blob, error) {
	if err := ctx.Err(); err != nil {
		return nil, Blob{}, fmt.Errorf("blobstore: open: %w", err)
	}
	if err := checkKey(key); err != nil {
		return nil, Blob{}, err
	}
	resp, err := s.do(ctx, http.MethodGet, key, nil, 0, emptySHA256, nil)
	if err != nil {
		return nil, Blob{}, err
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		defer resp.Body.Close()
		return nil, Blob{}, notFound(http.MethodGet, key, resp)
	case resp.StatusCode != http.StatusOK:
		defer resp.Body.Close()
		return nil, Blob{}, newS3Error(http.MethodGet, key, resp)
	case resp.ContentLength < 0:
		resp.Body.Close()
		return nil, Blob{}, fmt.Errorf("blobstore: s3 GET %s: response without Content-Length", key)
	}
	blob := s.blobFrom(key, resp)
	return newVerifyingReader(resp.Body, key, blob.Size), *blob, nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("blobstore: delete: %w", err)
	}
	if err := checkKey(key); err != nil {
		return err
	}
	resp, err := s.do(ctx, http.MethodDelete, key, nil, 0, emptySHA256, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		if err := notFound(http.MethodDelete, key, resp); !errors.Is(err, ErrNotFound) {
			return err
		}
		return nil
	}
	if resp.StatusCode/100 != 2 {
		return newS3Error(http.MethodDelete, key, resp)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return nil
}
