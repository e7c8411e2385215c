package blobstore

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sort"
	"strings"
	"time"
)

// AWS Signature Version 4, header form, as described in the AWS General
// Reference ("Signing AWS API requests") and the S3 API Reference
// ("Authenticating Requests: Using the Authorization Header").

const (
	sigAlgorithm  = "AWS4-HMAC-SHA256"
	amzDateFormat = "20060102T150405Z"
	// emptySHA256 is the hex SHA-256 of no bytes, the payload hash of a
	// request without a body.
	emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// signer signs requests for one service in one region.
type signer struct {
	accessKeyID     string
	secretAccessKey string
	sessionToken    string
	region          string
	service         string
}

// sign adds X-Amz-Date (and X-Amz-Security-Token with temporary
// credentials) and Authorization to req, signing the host, every header
// already set on req, and payloadHash, the hex SHA-256 of the body. It
// rewrites the path and query of req.URL in their canonical encoding so that
// what is sent is what was signed.
func (s *signer) sign(req *http.Request, payloadHash string, now time.Time) {
	now = now.UTC()
	amzDate := now.Format(amzDateFormat)
	scope := amzDate[:8] + "/" + s.region + "/" + s.service + "/aws4_request"

	req.Header.Del("Authorization")
	req.Header.Set("X-Amz-Date", amzDate)
	if s.sessionToken != "" {
		req.Header.Set("X-Amz-Security-Token", s.sessionToken)
	}

	uri := canonicalURI(req.URL.Path)
	req.URL.RawPath = uri
	query := canonicalQuery(req.URL.Query())
	req.URL.RawQuery = query

	headers, signed := canonicalHeaders(req)
	canonical := strings.Join([]string{req.Method, uri, query, headers, signed, payloadHash}, "\n")
	sum := sha256.Sum256([]byte(canonical))
	toSign := sigAlgorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])

	key := hmacSHA256([]byte("AWS4"+s.secretAccessKey), amzDate[:8])
	key = hmacSHA256(key, s.region)
	key = hmacSHA256(key, s.service)
	key = hmacSHA256(key, "aws4_request")
	signature := hex.EncodeToString(hmacSHA256(key, toSign))

	req.Header.Set("Authorization", sigAlgorithm+" Credential="+s.accessKeyID+"/"+scope+
		", SignedHeaders="+signed+", Signature="+signature)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// canonicalHeaders returns the canonical headers block (each line ending in
// a newline) and the signed headers list of req: the host and every header
// set on req but Authorization and User-Agent.
func canonicalHeaders(req *http.Request) (block, signed string) {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	values := map[string]string{"host": trimHeaderValue(host)}
	for name, vs := range req.Header {
		lower := strings.ToLower(name)
		if lower == "authorization" || lower == "user-agent" {
			continue
		}
		trimmed := make([]string, len(vs))
		for i, v := range vs {
			trimmed[i] = trimHeaderValue(v)
		}
		values[lower] = strings.Join(trimmed, ",")
	}
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(values[name])
		b.WriteByte('\n')
	}
	return b.String(), strings.Join(names, ";")
}

// trimHeaderValue removes leading and trailing spaces and turns runs of
// spaces into one.
func trimHeaderValue(v string) string {
	return strings.Join(strings.Fields(v), " ")
}

// canonicalURI encodes path once, keeping slashes, as S3 wants (other
// services encode twice).
func canonicalURI(path string) string {
	if path == "" {
		return "/"
	}
	return uriEncode(path, false)
}

// canonicalQuery encodes the query sorted by encoded name, then value.
func canonicalQuery(q map[string][]string) string {
	if len(q) == 0 {
		return ""
	}
	type pair struct{ name, value string }
	pairs := make([]pair, 0, len(q))
	for name, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, pair{uriEncode(name, true), uriEncode(v, true)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].name != pairs[j].name {
			return pairs[i].name < pairs[j].name
		}
		return pairs[i].value < pairs[j].value
	})
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p.name + "=" + p.value
	}
	return strings.Join(parts, "&")
}

// uriEncode percent-encodes every byte of s but the unreserved characters of
// RFC 3986 (and '/', unless encodeSlash), with uppercase hex digits.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := range len(s) {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~', c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		}
	}
	return b.String()
}
