package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/MicahParks/jwkset"
)

// Parsing, caching and refreshing key sets is left to
// github.com/MicahParks/jwkset. What stays here is the policy: which keys of a
// set are used, for which single algorithm each, and which sets are refused
// whole.

// Token algorithms accepted, one per supported key type. Nothing else is
// accepted: not "none", not HMAC, whatever a token's header says.
const (
	algEdDSA = "EdDSA"
	algRS256 = "RS256"
	algES256 = "ES256"
)

var acceptedAlgs = []string{algEdDSA, algRS256, algES256}

// minRSABits is the smallest RSA modulus accepted in a JWKS.
const minRSABits = 2048

// verificationKey is one public key from a JWKS with the only token
// algorithm it verifies.
type verificationKey struct {
	kid string
	alg string
	key crypto.PublicKey
}

// parseJWKS reads a JWK Set and returns its signature verification keys.
// Keys that are not for signatures, have no kid, or are of a type or
// algorithm this package does not verify are skipped, because identity
// providers publish such keys next to the ones that matter. A key that is
// malformed is an error, and so is a set with no usable key (see vetKeys).
func parseJWKS(data []byte) ([]jwkset.JWK, error) {
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("parse JWKS: %w", err)
	}
	keys := make([]jwkset.JWK, 0, len(set.Keys))
	for i, m := range set.Keys {
		// Private members are not read: a public key set has none.
		k, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		switch {
		case errors.Is(err, jwkset.ErrUnsupportedKey):
			continue
		case err != nil:
			return nil, fmt.Errorf("parse JWKS: key %d (kid %q): %w", i, truncate(m.KID), err)
		}
		keys = append(keys, k)
	}
	return vetKeys(keys)
}

// vetKeys applies this package's policy to a parsed key set and returns the
// usable keys. It refuses the whole set when a usable key is weak or
// malformed, when two usable keys share a kid, or when none is usable; a
// refused set never replaces the keys in use.
func vetKeys(keys []jwkset.JWK) ([]jwkset.JWK, error) {
	out := make([]jwkset.JWK, 0, len(keys))
	seen := map[string]bool{}
	for _, k := range keys {
		vk, ok, err := usableKey(k)
		if err != nil {
			return nil, fmt.Errorf("parse JWKS: kid %q: %w", truncate(k.Marshal().KID), err)
		}
		if !ok {
			continue
		}
		if seen[vk.kid] {
			return nil, fmt.Errorf("parse JWKS: duplicate kid %q", truncate(vk.kid))
		}
		seen[vk.kid] = true
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, errors.New("parse JWKS: no usable signature verification key (need OKP/Ed25519, RSA or EC P-256 with a kid)")
	}
	return out, nil
}

// usableKey decides what a key is used for. ok is false for keys that are
// skipped; err is set for keys that would be used but are not acceptable.
// The key's type (and curve) decides the one algorithm it verifies; an "alg"
// member, when present, must name that same algorithm or the key is skipped.
func usableKey(k jwkset.JWK) (vk verificationKey, ok bool, err error) {
	m := k.Marshal()
	if m.KID == "" {
		return vk, false, nil
	}
	if m.USE != "" && m.USE != jwkset.UseSig {
		return vk, false, nil
	}
	if len(m.KEYOPS) > 0 && !slices.Contains(m.KEYOPS, jwkset.KeyOpsVerify) {
		return vk, false, nil
	}
	vk.kid = m.KID
	alg := string(m.ALG)
	switch m.KTY {
	case jwkset.KtyOKP:
		if m.CRV != jwkset.CrvEd25519 || !algIs(alg, algEdDSA, "Ed25519") {
			return vk, false, nil
		}
		pub, isPub := k.Key().(ed25519.PublicKey)
		if !isPub {
			return vk, false, fmt.Errorf("Ed25519 key is %T, want a public key", k.Key())
		}
		vk.alg, vk.key = algEdDSA, pub
	case jwkset.KtyRSA:
		if !algIs(alg, algRS256) {
			return vk, false, nil
		}
		pub, isPub := k.Key().(*rsa.PublicKey)
		if !isPub {
			return vk, false, fmt.Errorf("RSA key is %T, want a public key", k.Key())
		}
		if bits := pub.N.BitLen(); bits < minRSABits {
			return vk, false, fmt.Errorf("n: RSA key of %d bits is too small, want at least %d", bits, minRSABits)
		}
		if pub.E < 3 || pub.E%2 == 0 {
			return vk, false, fmt.Errorf("e: invalid exponent %d", pub.E)
		}
		vk.alg, vk.key = algRS256, pub
	case jwkset.KtyEC:
		if m.CRV != jwkset.CrvP256 || !algIs(alg, algES256) {
			return vk, false, nil
		}
		pub, isPub := k.Key().(*ecdsa.PublicKey)
		if !isPub {
			return vk, false, fmt.Errorf("EC key is %T, want a public key", k.Key())
		}
		// jwkset checks the point is on the curve; the coordinates must also
		// have their full length (RFC 7518 6.2.1.2).
		if pub.Curve != elliptic.P256() || len(m.X) != 43 || len(m.Y) != 43 {
			return vk, false, errors.New("P-256 coordinates must have 32 bytes")
		}
		vk.alg, vk.key = algES256, pub
	default:
		return vk, false, nil
	}
	// RFC 7515 base64url has no padding; jwkset tolerates it, we do not, so
	// that one key has one encoding.
	for name, v := range map[string]string{"x": m.X, "y": m.Y, "n": m.N, "e": m.E} {
		if strings.ContainsRune(v, '=') {
			return vk, false, fmt.Errorf("%s: not base64url without padding", name)
		}
	}
	return vk, true, nil
}

// algIs reports whether a JWK's optional "alg" is empty or one of want.
func algIs(alg string, want ...string) bool {
	return alg == "" || slices.Contains(want, alg)
}

// vettedStorage is the jwkset storage the Verifier reads keys from. Every
// set installed in it, at start or on a refresh, goes through vetKeys first;
// a set that fails keeps the previous one in place (jwkset reports the
// error to the refresh error handler).
type vettedStorage struct {
	*jwkset.MemoryJWKSet
}

func newVettedStorage() *vettedStorage {
	return &vettedStorage{MemoryJWKSet: jwkset.NewMemoryStorage()}
}

// KeyReplaceAll installs given after vetting it.
func (s *vettedStorage) KeyReplaceAll(ctx context.Context, given []jwkset.JWK) error {
	keys, err := vetKeys(given)
	if err != nil {
		return err
	}
	return s.MemoryJWKSet.KeyReplaceAll(ctx, keys)
}

// KeyWrite is refused: keys come in whole, vetted sets only.
func (s *vettedStorage) KeyWrite(context.Context, jwkset.JWK) error {
	return errors.New("auth: keys are installed as whole sets")
}
