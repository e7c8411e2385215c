package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
)

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

// jsonWebKey is the JSON form of a key (RFC 7517), restricted to the members
// used here.
type jsonWebKey struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Use    string   `json:"use,omitempty"`
	Alg    string   `json:"alg,omitempty"`
	KeyOps []string `json:"key_ops,omitempty"`
	Crv    string   `json:"crv,omitempty"`
	X      string   `json:"x,omitempty"`
	Y      string   `json:"y,omitempty"`
	N      string   `json:"n,omitempty"`
	E      string   `json:"e,omitempty"`
}

type jsonWebKeySet struct {
	Keys []json.RawMessage `json:"keys"`
}

// parseJWKS reads a JWK Set and returns its signature verification keys by
// kid. Keys that are not for signatures, have no kid, or are of a type or
// algorithm this package does not verify are skipped, because identity
// providers publish such keys next to the ones that matter. A supported key
// that is malformed is an error, and so is a set with no usable key.
func parseJWKS(data []byte) (map[string]verificationKey, error) {
	var set jsonWebKeySet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("parse JWKS: %w", err)
	}
	keys := make(map[string]verificationKey, len(set.Keys))
	for i, raw := range set.Keys {
		var jwk jsonWebKey
		if err := json.Unmarshal(raw, &jwk); err != nil {
			return nil, fmt.Errorf("parse JWKS: key %d: %w", i, err)
		}
		k, ok, err := jwk.verificationKey()
		if err != nil {
			return nil, fmt.Errorf("parse JWKS: key %d (kid %q): %w", i, jwk.Kid, err)
		}
		if !ok {
			continue
		}
		if _, dup := keys[k.kid]; dup {
			return nil, fmt.Errorf("parse JWKS: duplicate kid %q", k.kid)
		}
		keys[k.kid] = k
	}
	if len(keys) == 0 {
		return nil, errors.New("parse JWKS: no usable signature verification key (need OKP/Ed25519, RSA or EC P-256 with a kid)")
	}
	return keys, nil
}

// verificationKey converts jwk. ok is false for keys that are skipped.
func (jwk jsonWebKey) verificationKey() (k verificationKey, ok bool, err error) {
	if jwk.Kid == "" {
		return k, false, nil
	}
	if jwk.Use != "" && jwk.Use != "sig" {
		return k, false, nil
	}
	if len(jwk.KeyOps) > 0 && !slices.Contains(jwk.KeyOps, "verify") {
		return k, false, nil
	}
	k.kid = jwk.Kid
	switch jwk.Kty {
	case "OKP":
		if jwk.Crv != "Ed25519" || !algIs(jwk.Alg, algEdDSA, "Ed25519") {
			return k, false, nil
		}
		x, err := decodeB64("x", jwk.X)
		if err != nil {
			return k, false, err
		}
		if len(x) != ed25519.PublicKeySize {
			return k, false, fmt.Errorf("x: Ed25519 public key has %d bytes, want %d", len(x), ed25519.PublicKeySize)
		}
		k.alg, k.key = algEdDSA, ed25519.PublicKey(x)
	case "RSA":
		if !algIs(jwk.Alg, algRS256) {
			return k, false, nil
		}
		pub, err := jwk.rsaKey()
		if err != nil {
			return k, false, err
		}
		k.alg, k.key = algRS256, pub
	case "EC":
		if jwk.Crv != "P-256" || !algIs(jwk.Alg, algES256) {
			return k, false, nil
		}
		pub, err := jwk.p256Key()
		if err != nil {
			return k, false, err
		}
		k.alg, k.key = algES256, pub
	default:
		return k, false, nil
	}
	return k, true, nil
}

func (jwk jsonWebKey) rsaKey() (*rsa.PublicKey, error) {
	n, err := decodeB64("n", jwk.N)
	if err != nil {
		return nil, err
	}
	e, err := decodeB64("e", jwk.E)
	if err != nil {
		return nil, err
	}
	if len(e) > 4 {
		return nil, fmt.Errorf("e: exponent of %d bytes is too large", len(e))
	}
	exp := int(new(big.Int).SetBytes(e).Int64())
	if exp < 3 || exp%2 == 0 {
		return nil, fmt.Errorf("e: invalid exponent %d", exp)
	}
	mod := new(big.Int).SetBytes(n)
	if mod.BitLen() < minRSABits {
		return nil, fmt.Errorf("n: RSA key of %d bits is too small, want at least %d", mod.BitLen(), minRSABits)
	}
	return &rsa.PublicKey{N: mod, E: exp}, nil
}

func (jwk jsonWebKey) p256Key() (*ecdsa.PublicKey, error) {
	const size = 32
	x, err := decodeB64("x", jwk.X)
	if err != nil {
		return nil, err
	}
	y, err := decodeB64("y", jwk.Y)
	if err != nil {
		return nil, err
	}
	if len(x) != size || len(y) != size {
		return nil, fmt.Errorf("P-256 coordinates must have %d bytes, have x %d and y %d", size, len(x), len(y))
	}
	point := make([]byte, 0, 1+2*size)
	point = append(point, 4) // uncompressed
	point = append(point, x...)
	point = append(point, y...)
	// ParseUncompressedPublicKey rejects points that are not on the curve.
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return nil, fmt.Errorf("P-256 point: %w", err)
	}
	return pub, nil
}

func decodeB64(member, s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("%s: missing", member)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%s: not base64url without padding: %w", member, err)
	}
	return b, nil
}

// algIs reports whether a JWK's optional "alg" is empty or one of want.
func algIs(alg string, want ...string) bool {
	return alg == "" || slices.Contains(want, alg)
}
