package app

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"time"
)

// Signer makes the secrets a submission service hands out, with one key:
// the per-submission edit secrets and the one-time confirmation tokens.
// Nothing is stored for either: both are recomputed from the key, so a
// retried create (same idempotency key) can return the same edit secret.
type Signer struct {
	key []byte
}

// NewSigner returns a signer with key, which must have at least 32 bytes.
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < 32 {
		return nil, errors.New("signing key: at least 32 bytes are needed")
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

// AddressTag is what the audit record of an erasure keeps instead of the
// address: a hex HMAC-SHA256 of the normalised address under the signing
// key. A later request about the same address finds its erasures, while
// whoever reads the database without the key cannot confirm a guessed
// address, as an unkeyed hash would let them.
func (s *Signer) AddressTag(email string) string {
	return hex.EncodeToString(s.mac("erasure-audit-address", NormaliseEmail(email)))
}

// legacyAddressTag is the tag erasure records had before the normal form
// dropped quotes, +tags, trailing dots and Gmail's dots: the address
// trimmed and in lower case. Exports look for both, so that earlier
// records are still found.
func (s *Signer) legacyAddressTag(email string) string {
	return hex.EncodeToString(s.mac("erasure-audit-address", strings.ToLower(strings.TrimSpace(email))))
}

func (s *Signer) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// EditSecret is the secret that lets its holder edit or withdraw submission id.
func (s *Signer) EditSecret(submissionID string) string {
	return base64.RawURLEncoding.EncodeToString(s.mac("edit", submissionID))
}

// CheckEditSecret reports whether secret is the edit secret of submissionID.
func (s *Signer) CheckEditSecret(submissionID, secret string) bool {
	return secret != "" && hmac.Equal([]byte(secret), []byte(s.EditSecret(submissionID)))
}

// ConfirmationToken is the token of the link that confirms submission id; it
// is valid until expires. That it is used once is the submission's state:
// a confirmed submission is not pending any more.
func (s *Signer) ConfirmationToken(submissionID string, expires time.Time) string {
	var exp [8]byte
	binary.BigEndian.PutUint64(exp[:], uint64(expires.Unix()))
	payload := submissionID + "." + base64.RawURLEncoding.EncodeToString(exp[:])
	return payload + "." + base64.RawURLEncoding.EncodeToString(s.mac("confirm", payload))
}

// ParseConfirmationToken checks a token's signature and returns what it names.
func (s *Signer) ParseConfirmationToken(token string) (submissionID string, expires time.Time, err error) {
	id, rest, ok := strings.Cut(token, ".")
	exp, sig, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 {
		return "", time.Time{}, errors.New("malformed token")
	}
	want := s.mac("confirm", id+"."+exp)
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, want) {
		return "", time.Time{}, errors.New("bad signature")
	}
	raw, err := base64.RawURLEncoding.DecodeString(exp)
	if err != nil || len(raw) != 8 {
		return "", time.Time{}, errors.New("malformed expiry")
	}
	return id, time.Unix(int64(binary.BigEndian.Uint64(raw)), 0), nil
}
