package main

import (
	"strings"
	"testing"
	"time"
)

// The settings of outbox size, retention and reconciliation are read, and
// a bad value is named.
func TestRelaySettingsFromEnvironment(t *testing.T) {
	env := map[string]string{
		"CONSULTA_MAX_EVENT_BYTES": "524288", "CONSULTA_OUTBOX_RETENTION": "72h", "CONSULTA_INBOX_RETENTION": "1000h",
		"CONSULTA_PRUNE_INTERVAL": "10m", "CONSULTA_RECONCILE_INTERVAL": "5m",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, _, err := platformConfigFromEnv(lookup)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxEventBytes != 524288 || cfg.OutboxRetention != 72*time.Hour || cfg.InboxRetention != 1000*time.Hour ||
		cfg.PruneInterval != 10*time.Minute || cfg.ReconcileInterval != 5*time.Minute {
		t.Errorf("config = %+v", cfg)
	}
	env = map[string]string{"CONSULTA_MAX_EVENT_BYTES": "12", "CONSULTA_RECONCILE_INTERVAL": "often"}
	_, _, err = platformConfigFromEnv(lookup)
	for k := range env {
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("error %v does not name %s", err, k)
		}
	}
}
