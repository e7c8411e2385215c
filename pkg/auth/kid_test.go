package auth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestHugeKidIsNotEchoed: a token whose kid (or alg) is 100 KB, or holds
// line breaks, gives an error and a log line of bounded size, with at most
// 64 printable characters of the value.
func TestHugeKidIsNotEchoed(t *testing.T) {
	k := testDevKey(t)
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, k.JWKS(), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	v, err := NewVerifier(t.Context(), VerifierConfig{
		JWKSFile: path, Issuer: DevIssuer, Audience: DevAudience,
		MinRefreshInterval: time.Nanosecond, // every unknown kid reloads, and logs when that fails
		Logger:             slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	huge := strings.Repeat("k", 100<<10)
	for name, kid := range map[string]string{
		"100 KB kid":           huge,
		"kid with line breaks": "evil\r\nlevel=ERROR msg=forged" + huge,
	} {
		_, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodEdDSA, k.priv, kid, validClaims(now)))
		var te *TokenError
		if err == nil || !errors.As(err, &te) {
			t.Fatalf("%s: %v", name, err)
		}
		if len(err.Error()) > 300 || strings.ContainsAny(te.Reason, "\r\n") || strings.Contains(err.Error(), strings.Repeat("k", 65)) {
			t.Errorf("%s: the error echoes the kid (%d bytes): %.200q", name, len(err.Error()), err.Error())
		}
		if !strings.Contains(te.Reason, "unknown key id") {
			t.Errorf("%s: reason %q", name, te.Reason)
		}
	}
	// A reload that fails logs the kid it was for, bounded too.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodEdDSA, k.priv, huge, validClaims(now))); err == nil {
		t.Fatal("accepted")
	}
	if logs.Len() == 0 || logs.Len() > 1000 || strings.Contains(logs.String(), strings.Repeat("k", 65)) {
		t.Errorf("log of %d bytes: %.300q", logs.Len(), logs.String())
	}

	// An unknown algorithm is named as briefly.
	tok := sign(t, jwt.SigningMethodHS256, []byte("secret"), k.KeyID(), validClaims(now))
	parts := strings.Split(tok, ".")
	header := `{"alg":"` + huge + `","kid":"` + k.KeyID() + `"}`
	parts[0] = b64([]byte(header))
	if _, err := v.Verify(context.Background(), strings.Join(parts, ".")); err == nil || len(err.Error()) > 300 {
		t.Errorf("a 100 KB alg: %.200v", err)
	}
}
