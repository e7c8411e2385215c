// Package pagetoken encodes the keyset position of a listing in an opaque
// page token: the sort value and the id of the last row served, so that the
// next page starts after it and pages stay stable while rows are added.
package pagetoken

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/consulta-platform/consulta/pkg/apperr"
)

// Position is where a page ended: the last row's sort time and id. The
// zero Position is the start of a listing.
type Position struct {
	At time.Time `json:"t"`
	ID string    `json:"i"`
}

// Encode returns the token of p.
func Encode(p Position) string {
	b, _ := json.Marshal(p) // a time and a string: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode returns the position in tok; the empty token is the start. A token
// this package did not make is an invalid page_token.
func Decode(tok string) (Position, error) {
	var p Position
	if tok == "" {
		return p, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err == nil {
		err = json.Unmarshal(b, &p)
	}
	if err == nil {
		_, err = uuid.Parse(p.ID)
	}
	if err != nil {
		return Position{}, apperr.Invalid("page_token", "not a page token this service issued")
	}
	return p, nil
}

// Limit bounds a requested page size: def when size is not positive, at
// most maxSize.
func Limit(size, def, maxSize int) int {
	switch {
	case size <= 0:
		return def
	case size > maxSize:
		return maxSize
	}
	return size
}
