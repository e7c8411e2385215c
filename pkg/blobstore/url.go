package blobstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// FromURL opens the store that rawURL names:
//
//   - file:///var/lib/consulta/blobs (or file:relative/dir): a Filesystem in
//     that directory.
//   - s3://bucket/optional/prefix/?endpoint=https://s3.example.org&region=eu-west-3&path_style=true:
//     an S3 store. endpoint, region and path_style are optional (see
//     S3Config); the region defaults to $AWS_REGION, then
//     $AWS_DEFAULT_REGION. The credentials never come from the URL: the AWS
//     SDK's default credential chain finds them, in this order:
//     AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN
//     for temporary credentials); the shared files ~/.aws/credentials and
//     ~/.aws/config (AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE,
//     AWS_CONFIG_FILE; including SSO and credential_process profiles); a web
//     identity token (AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN, as on
//     EKS); the container's role (ECS, AWS_CONTAINER_CREDENTIALS_*); the
//     instance's IAM role (EC2 instance metadata). Temporary credentials are
//     refreshed before they expire.
//
// FromURL does not contact a remote store.
func FromURL(ctx context.Context, rawURL string) (Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("blobstore: %w", err)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("blobstore: store URL: %w", err)
	}
	switch u.Scheme {
	case "file":
		return fileFromURL(u)
	case "s3":
		return s3FromURL(u)
	case "":
		return nil, fmt.Errorf("blobstore: store URL %q has no scheme: want file:///dir or s3://bucket", rawURL)
	}
	return nil, fmt.Errorf("blobstore: store URL scheme %q: want file or s3", u.Scheme)
}

func fileFromURL(u *url.URL) (Store, error) {
	if u.User != nil || (u.Host != "" && u.Host != "localhost") {
		return nil, fmt.Errorf("blobstore: file URL host %q: want file:///absolute/dir", u.Host)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("blobstore: file URL: no query or fragment allowed")
	}
	dir := u.Path
	if u.Opaque != "" {
		dir = u.Opaque // file:relative/dir
	}
	if dir == "" {
		return nil, errors.New("blobstore: file URL without a directory")
	}
	return NewFilesystem(dir)
}

func s3FromURL(u *url.URL) (Store, error) {
	if u.User != nil {
		return nil, errors.New("blobstore: s3 URL: credentials go in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, not in the URL")
	}
	if u.Fragment != "" || u.Opaque != "" {
		return nil, errors.New("blobstore: s3 URL: want s3://bucket[/prefix][?endpoint=...&region=...&path_style=...]")
	}
	cfg := S3Config{
		Bucket: u.Host,
		Prefix: strings.TrimPrefix(u.Path, "/"),
		Region: firstNonEmpty(os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION")),
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("blobstore: s3 URL query: %w", err)
	}
	for name, vs := range q {
		if len(vs) != 1 {
			return nil, fmt.Errorf("blobstore: s3 URL parameter %s: given %d times", name, len(vs))
		}
		v := vs[0]
		switch name {
		case "endpoint":
			cfg.Endpoint = v
		case "region":
			cfg.Region = v
		case "path_style":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("blobstore: s3 URL parameter path_style %q: want true or false", v)
			}
			cfg.UsePathStyle = b
		default:
			return nil, fmt.Errorf("blobstore: s3 URL parameter %q: want endpoint, region or path_style", name)
		}
	}
	// The SDK skips environment credentials that lack a half, and would go
	// on to the next source: say so instead.
	if id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"); (id == "") != (secret == "") {
		missing := "AWS_SECRET_ACCESS_KEY"
		if id == "" {
			missing = "AWS_ACCESS_KEY_ID"
		}
		return nil, fmt.Errorf("blobstore: s3 URL: %s is not set: set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither to use the other credential sources", missing)
	}
	return NewS3(cfg)
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
