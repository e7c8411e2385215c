package blobstore

import (
	"net/http"
	"testing"
	"time"
)

// TestSignerAWSExample checks the signer against the example GET Object
// request of the S3 API Reference ("Signature Calculations for the
// Authorization Header", example "GET Object"): bucket examplebucket, object
// test.txt, first 10 bytes.
func TestSignerAWSExample(t *testing.T) {
	req, err := http.NewRequest(http.MethodGet, "https://examplebucket.s3.amazonaws.com/test.txt", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Range", "bytes=0-9")
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	s := signer{
		accessKeyID:     "AKIAIOSFODNN7EXAMPLE",
		secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		region:          "us-east-1",
		service:         "s3",
	}
	s.sign(req, emptySHA256, time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC))

	want := "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, " +
		"SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, " +
		"Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
	if got := req.Header.Get("Authorization"); got != want {
		t.Fatalf("Authorization:\n got %s\nwant %s", got, want)
	}
	if got := req.Header.Get("X-Amz-Date"); got != "20130524T000000Z" {
		t.Fatalf("X-Amz-Date %q", got)
	}
}

func TestURIEncode(t *testing.T) {
	for in, want := range map[string]string{
		"/a b/c~d_e-f.g": "/a%20b/c~d_e-f.g",
		"/é+=&?":         "/%C3%A9%2B%3D%26%3F",
		"":               "",
	} {
		if got := uriEncode(in, false); got != want {
			t.Errorf("uriEncode(%q) = %q, want %q", in, got, want)
		}
	}
	if got := uriEncode("a/b", true); got != "a%2Fb" {
		t.Errorf("uriEncode with slash = %q", got)
	}
	if got := canonicalQuery(map[string][]string{"a-b": {"2"}, "a": {"z", "y"}, "c d": {""}}); got != "a=y&a=z&a-b=2&c%20d=" {
		t.Errorf("canonicalQuery = %q", got)
	}
	if got := trimHeaderValue("  a   b  c "); got != "a b c" {
		t.Errorf("trimHeaderValue = %q", got)
	}
}

// TestSignerGetVanilla checks the signer against "get-vanilla" of the AWS
// Signature Version 4 test suite: the simplest GET, for a generic service,
// with no payload hash header.
func TestSignerGetVanilla(t *testing.T) {
	req, err := http.NewRequest(http.MethodGet, "https://example.amazonaws.com/", nil)
	if err != nil {
		t.Fatal(err)
	}
	s := signer{
		accessKeyID:     "AKIDEXAMPLE",
		secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
		region:          "us-east-1",
		service:         "service",
	}
	s.sign(req, emptySHA256, time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC))
	want := "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, " +
		"SignedHeaders=host;x-amz-date, " +
		"Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
	if got := req.Header.Get("Authorization"); got != want {
		t.Fatalf("Authorization:\n got %s\nwant %s", got, want)
	}
}
