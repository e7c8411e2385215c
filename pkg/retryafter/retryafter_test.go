package retryafter

import (
	"net/http"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	now := time.Now()
	for in, want := range map[string]time.Duration{
		"": 0, "0": 0, "-5": 0, "30": 30 * time.Second, " 30 ": 30 * time.Second, "abc": 0,
		"9999999": 24 * time.Hour, "99999999999999999": 24 * time.Hour, // no overflow into a negative wait
		now.Add(90 * time.Second).UTC().Format(http.TimeFormat): 89 * time.Second, // the date has whole seconds
		now.Add(48 * time.Hour).UTC().Format(http.TimeFormat):   24 * time.Hour,
		now.Add(-time.Hour).UTC().Format(http.TimeFormat):       0,
	} {
		got := Parse(in, now, 24*time.Hour)
		if got < want || got > want+time.Second {
			t.Errorf("Parse(%q) = %s, want %s", in, got, want)
		}
	}
}
