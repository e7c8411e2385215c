package pagetoken

import (
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	p := Position{At: time.Date(2026, 11, 22, 12, 0, 0, 123000, time.UTC), ID: "01a203d7-c3db-7929-a150-a716c8486780"}
	got, err := Decode(Encode(p))
	if err != nil || !got.At.Equal(p.At) || got.ID != p.ID {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if start, err := Decode(""); err != nil || start != (Position{}) {
		t.Errorf("empty token: %+v %v", start, err)
	}
	for _, bad := range []string{"forged", Encode(Position{ID: "not-a-uuid"}), "e30"} {
		if _, err := Decode(bad); err == nil {
			t.Errorf("Decode(%q) accepted", bad)
		}
	}
	if Limit(0, 50, 200) != 50 || Limit(500, 50, 200) != 200 || Limit(7, 50, 200) != 7 {
		t.Error("Limit")
	}
}
