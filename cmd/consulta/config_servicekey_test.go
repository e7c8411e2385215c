package main

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

// TestServiceKeyFromEnvironment: CONSULTA_SERVICE_KEY is base64 of at
// least 32 bytes; a shorter or undecodable one is refused by name.
func TestServiceKeyFromEnvironment(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	env := map[string]string{"CONSULTA_SERVICE_KEY": base64.StdEncoding.EncodeToString(key)}
	cfg, _, err := platformConfigFromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil || !bytes.Equal(cfg.ServiceKey, key) {
		t.Fatalf("service key %x, %v", cfg.ServiceKey, err)
	}
	for _, bad := range []string{base64.StdEncoding.EncodeToString(key[:16]), "not base64!"} {
		env["CONSULTA_SERVICE_KEY"] = bad
		if _, _, err := platformConfigFromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err == nil ||
			!strings.Contains(err.Error(), "CONSULTA_SERVICE_KEY") {
			t.Errorf("%q: %v, want an error naming CONSULTA_SERVICE_KEY", bad, err)
		}
	}
}
