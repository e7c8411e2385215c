// Package retryafter reads the Retry-After header of an HTTP answer (RFC 9110,
// section 10.2.3): how long a server asks its client to wait before trying
// again.
package retryafter

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Parse reads v, whole seconds ("120") or an HTTP date, as a wait from now,
// at most limit. It is 0 when v is empty, unreadable, not positive, or a
// date already past. Seconds too many for a time.Duration give limit.
func Parse(v string, now time.Time, limit time.Duration) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		if s > int64(limit/time.Second) {
			return limit
		}
		d = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), limit)
}
