package blobstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// s3Double is the S3 service of the tests: github.com/johannesboyne/gofakes3
// (an in-memory server that speaks the S3 REST API) behind a gate that does
// what S3 does before it serves a request and gofakes3 does not:
//
//   - it requires an AWS Signature Version 4 Authorization header for the
//     expected access key, region and service, over at least host,
//     x-amz-date and x-amz-content-sha256 (and x-amz-security-token when a
//     session token is expected), and recomputes the signature from the
//     request as received and the secret it knows (with the SDK's signer);
//     a mismatch is a 403 SignatureDoesNotMatch;
//   - it refuses a request dated more than 15 minutes away
//     (RequestTimeTooSkewed);
//   - it checks x-amz-content-sha256 and x-amz-checksum-sha256 against the
//     body (XAmzContentSHA256Mismatch, BadDigest).
//
// No S3-compatible server can be installed here (no Debian package, and the
// MinIO server is AGPL), so this stands in for one.
type s3Double struct {
	accessKeyID, secret, region string
	// sessionToken, when set, must come with every request, signed.
	sessionToken string
	backend      *s3mem.Backend
	fake         http.Handler

	mu       sync.Mutex
	counts   map[string]int // authenticated requests by method
	checksum []string       // x-amz-checksum-sha256 of each authenticated PUT
	// failNext answers the next n authenticated requests of a method 503
	// SlowDown.
	failNext map[string]int
}

func newS3Double(accessKeyID, secret, region string, vhostBase string, buckets ...string) *s3Double {
	backend := s3mem.New()
	for _, b := range buckets {
		if err := backend.CreateBucket(b); err != nil {
			panic(err)
		}
	}
	opts := []gofakes3.Option{gofakes3.WithIntegrityCheck(true)}
	if vhostBase != "" {
		opts = append(opts, gofakes3.WithHostBucket(true), gofakes3.WithHostBucketBase(vhostBase))
	}
	return &s3Double{
		accessKeyID: accessKeyID, secret: secret, region: region,
		backend:  backend,
		fake:     gofakes3.New(backend, opts...).Server(),
		counts:   map[string]int{},
		failNext: map[string]int{},
	}
}

func (d *s3Double) count(method string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.counts[method]
}

// object returns a stored object's content and media type.
func (d *s3Double) object(bucket, name string) ([]byte, string, bool) {
	o, err := d.backend.GetObject(bucket, name, nil)
	if err != nil {
		return nil, "", false
	}
	defer o.Contents.Close()
	data, err := io.ReadAll(o.Contents)
	if err != nil {
		return nil, "", false
	}
	return data, o.Metadata["Content-Type"], true
}

// setObject stores an object behind the client's back.
func (d *s3Double) setObject(bucket, name string, data []byte, contentType string) {
	if _, err := d.backend.PutObject(bucket, name, map[string]string{"Content-Type": contentType},
		bytes.NewReader(data), int64(len(data)), nil); err != nil {
		panic(err)
	}
}

func writeS3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n<Error><Code>%s</Code><Message>%s</Message></Error>", code, msg)
}

func (d *s3Double) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeS3Error(w, http.StatusBadRequest, "IncompleteBody", err.Error())
		return
	}
	if status, code, msg := d.authenticate(r, body); status != 0 {
		writeS3Error(w, status, code, msg)
		return
	}
	d.mu.Lock()
	d.counts[r.Method]++
	if r.Method == http.MethodPut {
		d.checksum = append(d.checksum, r.Header.Get("X-Amz-Checksum-Sha256"))
	}
	fail := d.failNext[r.Method] > 0
	if fail {
		d.failNext[r.Method]--
	}
	d.mu.Unlock()
	if fail {
		writeS3Error(w, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	d.fake.ServeHTTP(w, r)
}

// authenticate checks the request as S3 does; status 0 means it passes.
func (d *s3Double) authenticate(r *http.Request, body []byte) (status int, code, msg string) {
	const prefix = "AWS4-HMAC-SHA256 "
	authz := r.Header.Get("Authorization")
	if !strings.HasPrefix(authz, prefix) {
		return http.StatusForbidden, "AccessDenied", "want an AWS4-HMAC-SHA256 Authorization header"
	}
	fields := map[string]string{}
	for _, f := range strings.Split(strings.TrimPrefix(authz, prefix), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	date, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return http.StatusForbidden, "AccessDenied", "missing or bad X-Amz-Date"
	}
	if skew := time.Since(date); skew > 15*time.Minute || skew < -15*time.Minute {
		return http.StatusForbidden, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large."
	}
	scope := strings.Join([]string{d.accessKeyID, date.Format("20060102"), d.region, "s3", "aws4_request"}, "/")
	if fields["Credential"] != scope {
		return http.StatusForbidden, "InvalidAccessKeyId", "credential scope " + fields["Credential"] + ", want " + scope
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	want := []string{"host", "x-amz-date", "x-amz-content-sha256"}
	if d.sessionToken != "" {
		if r.Header.Get("X-Amz-Security-Token") != d.sessionToken {
			return http.StatusForbidden, "InvalidToken", "missing or wrong session token"
		}
		want = append(want, "x-amz-security-token")
	}
	for _, h := range want {
		if !contains(signed, h) {
			return http.StatusForbidden, "AccessDenied", h + " is not signed"
		}
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload != "UNSIGNED-PAYLOAD" {
		if sum := sha256.Sum256(body); payload != hex.EncodeToString(sum[:]) {
			return http.StatusBadRequest, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed."
		}
	}
	if c := r.Header.Get("X-Amz-Checksum-Sha256"); c != "" {
		if sum := sha256.Sum256(body); c != base64.StdEncoding.EncodeToString(sum[:]) {
			return http.StatusBadRequest, "BadDigest", "The SHA256 you specified did not match the calculated checksum."
		}
	}

	// Sign the request as received, over the headers it says it signed,
	// and compare.
	again, err := http.NewRequest(r.Method, "http://"+r.Host+r.RequestURI, nil)
	if err != nil {
		return http.StatusBadRequest, "InvalidURI", err.Error()
	}
	again.Host = r.Host
	for _, h := range signed {
		switch h {
		case "host":
		case "content-length":
			again.ContentLength = r.ContentLength
		default:
			again.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	creds := aws.Credentials{AccessKeyID: d.accessKeyID, SecretAccessKey: d.secret, SessionToken: d.sessionToken}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(r.Context(), creds, again, payload, "s3", d.region, date); err != nil {
		return http.StatusInternalServerError, "InternalError", err.Error()
	}
	if got := signature(again.Header.Get("Authorization")); got == "" || got != fields["Signature"] {
		return http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided."
	}
	return 0, "", ""
}

func signature(authz string) string {
	_, sig, _ := strings.Cut(authz, "Signature=")
	return sig
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
