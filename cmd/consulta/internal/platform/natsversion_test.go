package platform

import "testing"

func TestCheckNATSVersion(t *testing.T) {
	for v, ok := range map[string]bool{"2.9.10": false, "2.10.0": true, "2.11.4": true, "2.15.2": true, "v2.10.22-beta": true, "1.4.1": false, "3.0.0": true} {
		if err := checkNATSVersion(v); (err == nil) != ok {
			t.Errorf("checkNATSVersion(%q) = %v", v, err)
		}
	}
}
