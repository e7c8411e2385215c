package blobstore

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// fakeS3 is an in-memory S3-compatible server for tests. It checks every
// request's Signature Version 4 the way S3 does, recomputing it from the
// request as received and the secret it knows, and answers 403 when it does
// not match. It serves path-style requests, and virtual-hosted ones for hosts
// ending in vhostSuffix.
type fakeS3 struct {
	accessKeyID, secret, region string
	// sessionToken, when set, must come with every request.
	sessionToken string
	vhostSuffix  string

	mu      sync.Mutex
	buckets map[string]map[string]fakeObject
	counts  map[string]int // requests by method, once authenticated
}

type fakeObject struct {
	data        []byte
	contentType string
}

func newFakeS3(accessKeyID, secret, region string, buckets ...string) *fakeS3 {
	f := &fakeS3{
		accessKeyID: accessKeyID, secret: secret, region: region,
		buckets: map[string]map[string]fakeObject{},
		counts:  map[string]int{},
	}
	for _, b := range buckets {
		f.buckets[b] = map[string]fakeObject{}
	}
	return f
}

func (f *fakeS3) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[method]
}

// object returns a stored object for tests to look at or change.
func (f *fakeS3) object(bucket, name string) (fakeObject, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.buckets[bucket][name]
	return o, ok
}

func (f *fakeS3) setObject(bucket, name string, o fakeObject) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.buckets[bucket][name] = o
}

func writeS3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n<Error><Code>%s</Code><Message>%s</Message></Error>", code, msg)
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeS3Error(w, http.StatusBadRequest, "IncompleteBody", err.Error())
		return
	}
	if status, code, msg := f.authenticate(r, body); status != 0 {
		writeS3Error(w, status, code, msg)
		return
	}

	// Which bucket and object.
	rawPath := strings.SplitN(r.RequestURI, "?", 2)[0]
	path, err := url.PathUnescape(rawPath)
	if err != nil {
		writeS3Error(w, http.StatusBadRequest, "InvalidURI", err.Error())
		return
	}
	var bucket, name string
	if host, _, _ := strings.Cut(r.Host, ":"); f.vhostSuffix != "" && strings.HasSuffix(host, f.vhostSuffix) {
		bucket = strings.TrimSuffix(host, f.vhostSuffix)
		name = strings.TrimPrefix(path, "/")
	} else {
		bucket, name, _ = strings.Cut(strings.TrimPrefix(path, "/"), "/")
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts[r.Method]++
	objects, ok := f.buckets[bucket]
	if !ok {
		writeS3Error(w, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
		return
	}
	if name == "" {
		writeS3Error(w, http.StatusNotImplemented, "NotImplemented", "bucket operations are not faked")
		return
	}
	switch r.Method {
	case http.MethodPut:
		if r.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
			writeS3Error(w, http.StatusLengthRequired, "MissingContentLength", "want a Content-Length")
			return
		}
		ct := r.Header.Get("Content-Type")
		if ct == "" {
			ct = "binary/octet-stream" // as S3 does
		}
		objects[name] = fakeObject{data: body, contentType: ct}
		sum := sha256.Sum256(body)
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
		w.WriteHeader(http.StatusOK)
	case http.MethodGet, http.MethodHead:
		o, ok := objects[name]
		if !ok {
			if r.Method == http.MethodHead {
				w.WriteHeader(http.StatusNotFound) // HEAD responses have no body
				return
			}
			writeS3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
			return
		}
		w.Header().Set("Content-Type", o.contentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(o.data)))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			w.Write(o.data)
		}
	case http.MethodDelete:
		delete(objects, name)
		w.WriteHeader(http.StatusNoContent)
	default:
		writeS3Error(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method)
	}
}

// authenticate checks the request's signature, written from the S3
// documentation independently of the client's signer. It returns a zero
// status when the request is authentic.
func (f *fakeS3) authenticate(r *http.Request, body []byte) (status int, code, msg string) {
	const prefix = "AWS4-HMAC-SHA256 "
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, prefix) {
		return http.StatusForbidden, "AccessDenied", "no AWS4-HMAC-SHA256 Authorization header"
	}
	fields := map[string]string{}
	for _, part := range strings.Split(strings.TrimPrefix(auth, prefix), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return http.StatusBadRequest, "AuthorizationHeaderMalformed", "bad part " + part
		}
		fields[k] = v
	}
	cred := strings.Split(fields["Credential"], "/")
	if len(cred) != 5 || cred[4] != "aws4_request" || cred[3] != "s3" {
		return http.StatusBadRequest, "AuthorizationHeaderMalformed", "bad credential " + fields["Credential"]
	}
	if cred[0] != f.accessKeyID {
		return http.StatusForbidden, "InvalidAccessKeyId", "unknown access key " + cred[0]
	}
	if cred[2] != f.region {
		return http.StatusBadRequest, "AuthorizationHeaderMalformed", "the region " + cred[2] + " is wrong; expecting " + f.region
	}
	amzDate := r.Header.Get("X-Amz-Date")
	when, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil || cred[1] != amzDate[:8] {
		return http.StatusForbidden, "AccessDenied", "bad X-Amz-Date " + amzDate
	}
	if d := time.Since(when); d > 15*time.Minute || d < -15*time.Minute {
		return http.StatusForbidden, "RequestTimeTooSkewed", "too far from the server's time"
	}
	if f.sessionToken != "" && r.Header.Get("X-Amz-Security-Token") != f.sessionToken {
		return http.StatusForbidden, "InvalidToken", "missing or wrong session token"
	}
	payloadHash := r.Header.Get("X-Amz-Content-Sha256")
	sum := sha256.Sum256(body)
	if payloadHash != hex.EncodeToString(sum[:]) {
		return http.StatusBadRequest, "XAmzContentSHA256Mismatch", "x-amz-content-sha256 does not match the body"
	}

	signed := strings.Split(fields["SignedHeaders"], ";")
	if !slices.IsSorted(signed) {
		return http.StatusForbidden, "SignatureDoesNotMatch", "signed headers not sorted"
	}
	for _, must := range []string{"host", "x-amz-date", "x-amz-content-sha256"} {
		if !slices.Contains(signed, must) {
			return http.StatusForbidden, "AccessDenied", must + " is not signed"
		}
	}
	for name := range r.Header {
		if n := strings.ToLower(name); strings.HasPrefix(n, "x-amz-") && !slices.Contains(signed, n) {
			return http.StatusForbidden, "AccessDenied", "header " + n + " is not signed"
		}
	}

	// The canonical request, from the request as received.
	var canon strings.Builder
	canon.WriteString(r.Method + "\n")
	rawPath, rawQuery, _ := strings.Cut(r.RequestURI, "?")
	path, err := url.PathUnescape(rawPath)
	if err != nil {
		return http.StatusBadRequest, "InvalidURI", err.Error()
	}
	canon.WriteString(awsEscape(path, "/") + "\n")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return http.StatusBadRequest, "InvalidURI", err.Error()
	}
	var qs []string
	for k, vs := range q {
		for _, v := range vs {
			qs = append(qs, awsEscape(k, "")+"\x00"+awsEscape(v, ""))
		}
	}
	slices.Sort(qs) // NUL sorts before any escaped byte: by name, then value
	canon.WriteString(strings.ReplaceAll(strings.Join(qs, "&"), "\x00", "=") + "\n")
	for _, h := range signed {
		v := strings.Join(r.Header.Values(h), ",")
		if h == "host" {
			v = r.Host
		}
		canon.WriteString(h + ":" + strings.Join(strings.Fields(v), " ") + "\n")
	}
	canon.WriteString("\n" + fields["SignedHeaders"] + "\n" + payloadHash)

	canonSum := sha256.Sum256([]byte(canon.String()))
	scope := strings.Join(cred[1:], "/")
	stringToSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(canonSum[:])
	mac := func(key []byte, s string) []byte {
		h := hmac.New(sha256.New, key)
		io.WriteString(h, s)
		return h.Sum(nil)
	}
	k := []byte("AWS4" + f.secret)
	for _, part := range cred[1:] {
		k = mac(k, part)
	}
	want := mac(k, stringToSign)
	got, err := hex.DecodeString(fields["Signature"])
	if err != nil || !hmac.Equal(got, want) {
		return http.StatusForbidden, "SignatureDoesNotMatch",
			"The request signature we calculated does not match the signature you provided."
	}
	return 0, "", ""
}

// awsEscape percent-encodes s as SigV4 wants, leaving the characters in keep
// as they are.
func awsEscape(s, keep string) string {
	const unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
	var out []byte
	for _, c := range []byte(s) {
		if strings.IndexByte(unreserved, c) >= 0 || strings.IndexByte(keep, c) >= 0 {
			out = append(out, c)
		} else {
			out = append(out, fmt.Sprintf("%%%02X", c)...)
		}
	}
	return string(out)
}
