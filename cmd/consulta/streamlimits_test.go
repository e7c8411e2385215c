package main

import (
	"strings"
	"testing"
	"time"
)

// TestStreamLimitsFromEnvironment: the CONSULTA stream's limits default to
// the documented 30 days and 10 GiB, take sizes with units, and a bad value
// is reported by its variable.
func TestStreamLimitsFromEnvironment(t *testing.T) {
	read := func(env map[string]string) (time.Duration, int64, error) {
		cfg, _, err := platformConfigFromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		return cfg.StreamMaxAge, cfg.StreamMaxBytes, err
	}
	age, size, err := read(nil)
	if err != nil || age != 30*24*time.Hour || size != 10<<30 {
		t.Errorf("defaults: %s, %d bytes, %v; want 720h and 10 GiB", age, size, err)
	}
	for v, want := range map[string]int64{"10GiB": 10 << 30, "512MiB": 512 << 20, "123456": 123456, "2 TiB": 2 << 40, "64KiB": 64 << 10, "100B": 100} {
		_, size, err := read(map[string]string{"CONSULTA_STREAM_MAX_BYTES": v})
		if err != nil || size != want {
			t.Errorf("CONSULTA_STREAM_MAX_BYTES=%q: %d, %v; want %d", v, size, err, want)
		}
	}
	age, _, err = read(map[string]string{"CONSULTA_STREAM_MAX_AGE": "168h"})
	if err != nil || age != 7*24*time.Hour {
		t.Errorf("CONSULTA_STREAM_MAX_AGE=168h: %s, %v", age, err)
	}
	for _, bad := range []map[string]string{
		{"CONSULTA_STREAM_MAX_BYTES": "ten"},
		{"CONSULTA_STREAM_MAX_BYTES": "-1GiB"},
		{"CONSULTA_STREAM_MAX_BYTES": "0"},
		{"CONSULTA_STREAM_MAX_BYTES": "99999999999TiB"},
		{"CONSULTA_STREAM_MAX_AGE": "a month"},
		{"CONSULTA_STREAM_MAX_AGE": "-1h"},
	} {
		_, _, err := read(bad)
		for k := range bad {
			if err == nil || !strings.Contains(err.Error(), k) {
				t.Errorf("%v: error %v does not name %s", bad, err, k)
			}
		}
	}
}
