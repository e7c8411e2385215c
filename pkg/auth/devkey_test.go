package auth

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestLoadOrCreateDevKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "consulta", "dev-signing-key.pem")
	k1, err := LoadOrCreateDevKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("key file mode = %o, want 600", mode)
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if mode := di.Mode().Perm(); mode != 0o700 {
		t.Errorf("key directory mode = %o, want 700", mode)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key", len(entries))
	}

	k2, err := LoadOrCreateDevKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if k1.KeyID() != k2.KeyID() || !k1.priv.Equal(k2.priv) {
		t.Fatal("loading the key again gave a different key")
	}

	// A token minted by one process verifies with the JWKS of another.
	tok, err := k1.Mint(Principal{Subject: "s", Role: RoleSecretariat}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	v := devVerifier(t, k2.JWKS(), nil)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
}

func TestLoadOrCreateDevKeyConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key.pem")
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		kids = map[string]bool{}
	)
	for range 8 {
		wg.Go(func() {
			k, err := LoadOrCreateDevKey(path)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			kids[k.KeyID()] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(kids) != 1 {
		t.Fatalf("concurrent creation gave %d different keys", len(kids))
	}
}

func TestLoadDevKeyRejectsOtherFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateDevKey(path); err == nil {
		t.Fatal("loaded a file that holds no key")
	}
}

func TestDevKeyJWKS(t *testing.T) {
	k := testDevKey(t)
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(k.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("JWKS has %d keys", len(set.Keys))
	}
	got := set.Keys[0]
	x := base64.RawURLEncoding.EncodeToString(k.priv.Public().(ed25519.PublicKey))
	want := map[string]string{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": k.KeyID(), "use": "sig", "alg": "EdDSA"}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("JWKS %s = %q, want %q", name, got[name], v)
		}
	}
	if _, ok := got["d"]; ok {
		t.Error("JWKS leaks the private key")
	}
}

func TestThumbprintRFC8037(t *testing.T) {
	// RFC 8037, appendix A.3.
	x, err := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := thumbprint(ed25519.PublicKey(x)), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Fatalf("thumbprint = %s, want %s", got, want)
	}
}

func TestDefaultDevKeyPath(t *testing.T) {
	t.Setenv(DevKeyEnv, "/tmp/x/key.pem")
	if got := DefaultDevKeyPath(); got != "/tmp/x/key.pem" {
		t.Fatalf("DefaultDevKeyPath() = %q with %s set", got, DevKeyEnv)
	}
	if runtime.GOOS != "linux" {
		return // os.UserConfigDir follows XDG only on Linux
	}
	t.Setenv(DevKeyEnv, "")
	t.Setenv("XDG_CONFIG_HOME", "/cfg")
	if got := DefaultDevKeyPath(); got != "/cfg/consulta/dev-signing-key.pem" {
		t.Fatalf("DefaultDevKeyPath() = %q", got)
	}
}
