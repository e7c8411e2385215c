package blobstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// The S3 store speaks to the service through the AWS SDK for Go v2
// (github.com/aws/aws-sdk-go-v2/service/s3): request signing (Signature
// Version 4), the credential chain and its refresh, retries with backoff and
// clock-skew correction are the SDK's. What stays here is the content
// addressing: object names, the media type, the SHA-256 sent with every
// upload, and the check of what is read back.

// maxPutSize is the largest object a single PUT stores.
const maxPutSize = 5 << 30

// S3Config says where an S3-compatible bucket is and which credentials sign
// requests to it.
type S3Config struct {
	// Endpoint is the base URL of the service: "https://s3.eu-west-3.amazonaws.com",
	// "https://s3.fr-par.scw.cloud", "http://localhost:9000". It may carry a
	// path, for a service behind a reverse proxy. Default: the AWS endpoint
	// of Region (or $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL).
	Endpoint string
	// Region is the signing region. Default: $AWS_REGION, the shared
	// configuration file, then "us-east-1" (which MinIO and Ceph accept
	// unless configured otherwise).
	Region string
	// Bucket is the bucket name: 3 to 63 lowercase letters, digits, dots and
	// hyphens (path-style access also allows uppercase and underscores).
	Bucket string
	// Prefix is prepended to every key to make the object name, for a bucket
	// shared with other data: "blobs/". Letters, digits, '/', '.', '_' and
	// '-' only.
	Prefix string
	// AccessKeyID and SecretAccessKey, with SessionToken for temporary
	// credentials, are fixed credentials. Left empty, the SDK's default
	// credential chain finds them (see FromURL) and refreshes them before
	// they expire.
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// UsePathStyle addresses objects as <endpoint>/<bucket>/<name> instead of
	// <bucket>.<endpoint host>/<name>. MinIO and most self-hosted services
	// need it.
	UsePathStyle bool
	// HTTPClient sends the requests (default: the SDK's client, with
	// connection and TLS handshake timeouts; requests end with their
	// context).
	HTTPClient *http.Client
	// MaxAttempts is how many times a request is tried when the service
	// answers with a transient error (5xx, throttling, clock skew) or the
	// connection fails. Zero means the SDK's default (3).
	MaxAttempts int
	// TempDir is where Put spools uploads to hash them before sending
	// (default: os.TempDir()).
	TempDir string
}

// S3 is a Store in an S3-compatible bucket. The object name of a blob is
// Prefix + key; its media type is the object's Content-Type. Uploads are
// single PUT requests (up to 5 GiB; documents are far smaller) that carry
// the SHA-256 of the content (x-amz-checksum-sha256), which the service
// checks before storing: the key is that hash, so what is stored under a key
// is what the key names.
type S3 struct {
	cfg    S3Config
	client *s3.Client
}

var _ Store = (*S3)(nil)

// NewS3 checks cfg and returns an S3 store. It does not contact the service,
// nor resolve credentials: a missing credential shows at the first request.
func NewS3(cfg S3Config) (*S3, error) {
	if cfg.Endpoint != "" {
		base, err := url.Parse(cfg.Endpoint)
		if err != nil {
			return nil, fmt.Errorf("blobstore: s3 endpoint: %w", err)
		}
		if (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" || base.User != nil ||
			base.RawQuery != "" || base.Fragment != "" {
			return nil, fmt.Errorf("blobstore: s3 endpoint %q: want http(s)://host[:port][/path]", cfg.Endpoint)
		}
	}
	if err := checkBucket(cfg.Bucket, cfg.UsePathStyle); err != nil {
		return nil, err
	}
	if err := checkPrefix(cfg.Prefix); err != nil {
		return nil, err
	}
	if (cfg.AccessKeyID == "") != (cfg.SecretAccessKey == "") {
		return nil, errors.New("blobstore: s3: give both the access key id and the secret access key, or neither (to use the default credential chain)")
	}
	if cfg.MaxAttempts < 0 {
		return nil, fmt.Errorf("blobstore: s3: negative MaxAttempts %d", cfg.MaxAttempts)
	}
	if cfg.TempDir == "" {
		cfg.TempDir = os.TempDir()
	}
	opts := []func(*config.LoadOptions) error{
		config.WithDefaultRegion("us-east-1"),
		// The SHA-256 is sent with each upload (see Put); the SDK's own
		// checksums (CRC32 by default since 2025) are not understood by
		// every S3-compatible service.
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	if cfg.MaxAttempts > 0 {
		opts = append(opts, config.WithRetryMaxAttempts(cfg.MaxAttempts))
	}
	// Reads the environment and the shared configuration files only.
	awsCfg, err := config.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("blobstore: s3: loading the AWS configuration: %w", err)
	}
	cfg.Region = awsCfg.Region
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.UsePathStyle
		if cfg.HTTPClient != nil {
			o.HTTPClient = cfg.HTTPClient
		}
	})
	return &S3{cfg: cfg, client: client}, nil
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
	// Err is the SDK's error.
	Err error
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

func (e *S3Error) Unwrap() error { return e.Err }

// s3Error turns an error of the SDK into an *S3Error when the service
// answered, and wraps it otherwise (no connection, no credentials,
// cancelled).
func s3Error(op, key string, err error) error {
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		return fmt.Errorf("blobstore: s3 %s %s: %w", op, key, err)
	}
	e := &S3Error{Op: op, Key: key, StatusCode: re.HTTPStatusCode(), Err: err}
	var ae smithy.APIError
	// A response without a body (HEAD) has only its status: the SDK then
	// names the error after the status, which says nothing more.
	if errors.As(err, &ae) && ae.ErrorCode() != http.StatusText(e.StatusCode) && ae.ErrorCode() != strings.ReplaceAll(http.StatusText(e.StatusCode), " ", "") {
		e.Code = strings.TrimSpace(ae.ErrorCode())
		e.Message = strings.TrimSpace(ae.ErrorMessage())
	}
	return e
}

// isNoSuchKey tells a missing object from a missing bucket in a 404.
func isNoSuchKey(err error) bool {
	var se *S3Error
	return errors.As(err, &se) && se.StatusCode == http.StatusNotFound && (se.Code == "" || se.Code == "NoSuchKey")
}

func (s *S3) name(key string) *string { return aws.String(s.cfg.Prefix + key) }

// Put implements Store. It spools the content to a temporary file to hash
// it, asks whether the object is there already (HEAD), and uploads it (PUT)
// unless it is there with the same media type.
func (s *S3) Put(ctx context.Context, r io.Reader, size int64, mediaType string) (Blob, error) {
	mediaType, err := checkPut(ctx, size, mediaType)
	if err != nil {
		return Blob{}, err
	}
	if size > maxPutSize {
		return Blob{}, fmt.Errorf("blobstore: s3 put: %d bytes is more than a single upload takes (%d)", size, int64(maxPutSize))
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
	sum, err := hex.DecodeString(key)
	if err != nil || len(sum) != sha256.Size {
		return Blob{}, fmt.Errorf("blobstore: s3 put: bad key %q", key) // cannot happen: spool made it
	}
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.cfg.Bucket),
		Key:    s.name(key),
		// A ReadSeeker, so that the SDK can hash it for the signature and
		// rewind it to retry.
		Body:           io.NewSectionReader(tmp, 0, size),
		ContentLength:  aws.Int64(size),
		ContentType:    aws.String(mediaType),
		ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum)),
	})
	if err != nil {
		return Blob{}, s3Error(http.MethodPut, key, err)
	}
	return blob, nil
}

// head describes the object holding key, or returns nil if there is none.
func (s *S3) head(ctx context.Context, key string) (*Blob, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: s.name(key)})
	if err != nil {
		err = s3Error(http.MethodHead, key, err)
		if isNoSuchKey(err) {
			return nil, nil
		}
		return nil, err
	}
	return blobFrom(key, out.ContentType, out.ContentLength), nil
}

func blobFrom(key string, contentType *string, length *int64) *Blob {
	mt, err := canonicalMediaType(aws.ToString(contentType))
	if err != nil {
		mt = defaultMediaType
	}
	return &Blob{Key: key, Size: aws.ToInt64(length), MediaType: mt, SHA256: key}
}

// Open implements Store.
func (s *S3) Open(ctx context.Context, key string) (io.ReadCloser, Blob, error) {
	if err := ctx.Err(); err != nil {
		return nil, Blob{}, fmt.Errorf("blobstore: open: %w", err)
	}
	if err := checkKey(key); err != nil {
		return nil, Blob{}, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: s.name(key)})
	if err != nil {
		err = s3Error(http.MethodGet, key, err)
		if isNoSuchKey(err) {
			return nil, Blob{}, fmt.Errorf("blobstore: s3 GET %s: %w", key, ErrNotFound)
		}
		return nil, Blob{}, err
	}
	if out.ContentLength == nil || *out.ContentLength < 0 {
		out.Body.Close()
		return nil, Blob{}, fmt.Errorf("blobstore: s3 GET %s: response without Content-Length", key)
	}
	blob := blobFrom(key, out.ContentType, out.ContentLength)
	return newVerifyingReader(out.Body, key, blob.Size), *blob, nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("blobstore: delete: %w", err)
	}
	if err := checkKey(key); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: s.name(key)})
	if err != nil {
		// S3 answers 204 for an absent object; some services say 404.
		if err = s3Error(http.MethodDelete, key, err); isNoSuchKey(err) {
			return nil
		}
		return err
	}
	return nil
}
