package blobstore

import (
	"bytes"
	"context"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

func TestFromURLFile(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "blobs")
	s, err := FromURL(ctx, (&url.URL{Scheme: "file", Path: dir}).String())
	if err != nil {
		t.Fatal(err)
	}
	fs, ok := s.(*Filesystem)
	if !ok || fs.Dir() != dir {
		t.Fatalf("FromURL = %#v, want a Filesystem in %s", s, dir)
	}
	testStore(t, func(t *testing.T) Store {
		s, err := FromURL(ctx, "file://"+filepath.Join(t.TempDir(), "b"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestFromURLS3(t *testing.T) {
	fake := newDouble()
	srv := httptest.NewServer(fake)
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", testAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testSecret)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", testRegion)

	raw := "s3://" + testBucket + "/papers/?endpoint=" + url.QueryEscape(srv.URL) + "&path_style=true"
	s, err := FromURL(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	s3, ok := s.(*S3)
	if !ok || s3.Bucket() != testBucket || s3.cfg.Prefix != "papers/" || s3.cfg.Region != testRegion || !s3.cfg.UsePathStyle {
		t.Fatalf("FromURL = %#v", s)
	}
	content := []byte("through FromURL")
	b, err := s.Put(context.Background(), bytes.NewReader(content), int64(len(content)), "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := fake.object(testBucket, "papers/"+b.Key); !ok {
		t.Fatal("object not stored under the prefix")
	}

	// The region in the URL wins over the environment.
	s, err = FromURL(context.Background(), "s3://"+testBucket+"?region=sa-east-1")
	if err != nil {
		t.Fatal(err)
	}
	if r := s.(*S3).cfg.Region; r != "sa-east-1" {
		t.Fatalf("region %q", r)
	}
}

func TestFromURLErrors(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "a")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	for raw, want := range map[string]string{
		"":                                "no scheme",
		"/var/lib/blobs":                  "no scheme",
		"gs://bucket":                     `scheme "gs"`,
		"file://otherhost/dir":            "otherhost",
		"file:///dir?x=1":                 "no query",
		"s3://user:pass@bucket":           "AWS_ACCESS_KEY_ID",
		"s3://bucket?endpoints=http://x":  `"endpoints"`,
		"s3://bucket?path_style=maybe":    "path_style",
		"s3://bucket?region=a&region=b":   "region",
		"s3://Bad_Bucket":                 "bucket",
		"s3://bucket?endpoint=ftp://host": "endpoint",
		"s3://bucket/../x":                "prefix",
	} {
		_, err := FromURL(context.Background(), raw)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("FromURL(%q): error %v, want one naming %s", raw, err, want)
		}
	}
	// Half of the environment credentials: named, not silently skipped for
	// the next source of the chain.
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	if _, err := FromURL(context.Background(), "s3://bucket"); err == nil || !strings.Contains(err.Error(), "AWS_SECRET_ACCESS_KEY is not set") {
		t.Errorf("FromURL with only AWS_ACCESS_KEY_ID: error %v", err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	if _, err := FromURL(context.Background(), "s3://bucket"); err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID is not set") {
		t.Errorf("FromURL with only AWS_SECRET_ACCESS_KEY: error %v", err)
	}
	// Neither: the rest of the chain (files, IAM roles) is used.
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	if _, err := FromURL(context.Background(), "s3://bucket"); err != nil {
		t.Errorf("FromURL without environment credentials: %v", err)
	}
}
