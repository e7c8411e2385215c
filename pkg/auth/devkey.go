package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// The development issuer's iss and aud.
const (
	DevIssuer   = "consulta-dev"
	DevAudience = "consulta"
)

// DevKeyEnv overrides DefaultDevKeyPath.
const DevKeyEnv = "CONSULTA_DEV_KEY"

// DevKey is the local development signing key (Ed25519) that `consulta
// token` uses and `consulta dev` trusts. It is for development only.
type DevKey struct {
	priv ed25519.PrivateKey
	kid  string
}

// DefaultDevKeyPath is $CONSULTA_DEV_KEY when set, else
// os.UserConfigDir()/consulta/dev-signing-key.pem, else (no config directory,
// e.g. no $HOME) .consulta/dev-signing-key.pem under the working directory.
func DefaultDevKeyPath() string {
	if p := os.Getenv(DevKeyEnv); p != "" {
		return p
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = ".consulta"
	} else {
		dir = filepath.Join(dir, "consulta")
	}
	return filepath.Join(dir, "dev-signing-key.pem")
}

// LoadOrCreateDevKey reads the PKCS#8 PEM Ed25519 key at path, or creates
// one there (directory mode 0700, file mode 0600) when there is none. Two
// processes creating it at once end up with the same key.
func LoadOrCreateDevKey(path string) (*DevKey, error) {
	k, err := loadDevKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create dev key directory: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate dev key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encode dev key: %w", err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})

	// Write a temporary file and link it into place: the key appears whole
	// or not at all, and a key created meanwhile by another process wins.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".dev-signing-key-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create dev key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("create dev key: %w", err)
	}
	if _, err := tmp.Write(pemBytes); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write dev key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write dev key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("write dev key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return loadDevKey(path)
		}
		return nil, fmt.Errorf("install dev key: %w", err)
	}
	return newDevKey(priv), nil
}

func loadDevKey(path string) (*DevKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read dev key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("read dev key %s: no PKCS#8 PEM block (PRIVATE KEY)", path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("read dev key %s: %w", path, err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("read dev key %s: %T is not an Ed25519 key", path, key)
	}
	return newDevKey(priv), nil
}

func newDevKey(priv ed25519.PrivateKey) *DevKey {
	return &DevKey{priv: priv, kid: thumbprint(priv.Public().(ed25519.PublicKey))}
}

// thumbprint is the RFC 7638 JWK thumbprint of an Ed25519 public key (the
// SHA-256 of its required members in lexical order, base64url).
func thumbprint(pub ed25519.PublicKey) string {
	canonical := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// KeyID is the kid of the key: its RFC 7638 thumbprint.
func (k *DevKey) KeyID() string { return k.kid }

// JWKS returns the public key as a JWK Set (JSON).
func (k *DevKey) JWKS() []byte {
	set := jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{{
		KTY: jwkset.KtyOKP,
		CRV: jwkset.CrvEd25519,
		X:   base64.RawURLEncoding.EncodeToString(k.priv.Public().(ed25519.PublicKey)),
		KID: k.kid,
		USE: jwkset.UseSig,
		ALG: jwkset.AlgEdDSA,
	}}}
	data, err := json.Marshal(set)
	if err != nil {
		panic(fmt.Sprintf("auth: marshal JWKS: %v", err)) // cannot happen: fixed types
	}
	return data
}

// Mint signs a token for p valid for ttl, issued by DevIssuer for
// DevAudience.
func (k *DevKey) Mint(p Principal, ttl time.Duration) (string, error) {
	return k.MintAt(p, time.Now(), ttl)
}

// MintAt signs a token as if issued at now; tests use it for tokens that have
// already expired.
func (k *DevKey) MintAt(p Principal, now time.Time, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		return "", fmt.Errorf("mint token: ttl %v is not positive", ttl)
	}
	if err := p.validate(); err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	claims := tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    DevIssuer,
			Audience:  jwt.ClaimStrings{DevAudience},
			Subject:   p.Subject,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Role:    string(p.Role),
		Country: p.Country,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = k.kid
	s, err := t.SignedString(k.priv)
	if err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	return s, nil
}
