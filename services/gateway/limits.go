package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Default bounds of the HTTP edge; docs/operations.md lists the settings
// that change them.
const (
	// DefaultMaxBodyBytes bounds the body of a JSON request: a submission,
	// a consultation (whose event must fit NATS's 1 MiB anyway).
	DefaultMaxBodyBytes = 1 << 20
	// DefaultMaxUploadBodyBytes bounds the body of a document upload: the
	// largest document (25 MiB) grows by a third in base64 inside JSON
	// (33.4 MiB), plus room for the field names.
	DefaultMaxUploadBodyBytes = 34 << 20
	// DefaultUploadReadTimeout is how long an upload's body may take to
	// arrive: 34 MiB over a 512 kbit/s satellite link takes 9 minutes.
	DefaultUploadReadTimeout = 15 * time.Minute
	// DefaultStreamWriteTimeout is how long a streamed download (the open
	// data export) may take to leave.
	DefaultStreamWriteTimeout = 30 * time.Minute
)

// uploadAnswerTime is how long an upload's answer may take once its body
// arrived: the RPC's own deadline (30 s by default) and the writing.
const uploadAnswerTime = time.Minute

// Limits bound what one request may cost the gateway. The server-wide read
// and write timeouts are set on the http.Server; these are the routes that
// need more.
type Limits struct {
	// MaxBodyBytes bounds every request body but uploads' (default
	// DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// MaxUploadBodyBytes bounds the body of POST
	// /v1/consultations/{id}/documents (default DefaultMaxUploadBodyBytes).
	MaxUploadBodyBytes int64
	// UploadReadTimeout replaces the server's read timeout for uploads
	// (default DefaultUploadReadTimeout); their write deadline is a minute
	// later.
	UploadReadTimeout time.Duration
	// StreamWriteTimeout replaces the server's write timeout for the open
	// data downloads (default DefaultStreamWriteTimeout).
	StreamWriteTimeout time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if l.MaxUploadBodyBytes <= 0 {
		l.MaxUploadBodyBytes = DefaultMaxUploadBodyBytes
	}
	if l.UploadReadTimeout <= 0 {
		l.UploadReadTimeout = DefaultUploadReadTimeout
	}
	if l.StreamWriteTimeout <= 0 {
		l.StreamWriteTimeout = DefaultStreamWriteTimeout
	}
	return l
}

// isUpload says whether r is UploadDocument's route,
// POST /v1/consultations/{consultation_id}/documents.
func isUpload(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	id, ok := strings.CutPrefix(r.URL.Path, "/v1/consultations/")
	if !ok {
		return false
	}
	id, ok = strings.CutSuffix(id, "/documents")
	return ok && id != "" && !strings.Contains(id, "/")
}

// isStream says whether r is a route that streams a response of any size:
// the open data downloads, and ExportOpenData through grpc-gateway.
func isStream(r *http.Request) bool {
	if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/v1/consultations/") {
		return false
	}
	p := r.URL.Path
	return strings.HasSuffix(p, "/open-data.csv") || strings.HasSuffix(p, "/open-data.ndjson") ||
		strings.HasSuffix(p, "/open-data")
}

// bodyLimit is what the bound of one request's body did. grpc-gateway turns
// a failed read into InvalidArgument with the error's text, so the type of
// the error never reaches an error handler: the limit is remembered here.
type bodyLimit struct {
	limit int64
	// cancel ends the request's context once the body ran over: a body
	// that is a valid request followed by more bytes than the limit is
	// decoded before the excess is read (and discarded), and must not
	// reach the service then.
	cancel context.CancelFunc

	mu       sync.Mutex
	exceeded bool
}

func (b *bodyLimit) hit() {
	b.mu.Lock()
	b.exceeded = true
	b.mu.Unlock()
	b.cancel()
}

func (b *bodyLimit) wasHit() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.exceeded
}

// limitedBody is the request body behind http.MaxBytesReader that records
// when the limit was hit.
type limitedBody struct {
	rc    interface{ Read([]byte) (int, error) }
	close func() error
	state *bodyLimit
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		b.state.hit()
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.close() }

// bounded bounds every request before next reads it: a body over the
// route's limit is refused with 413 as soon as its Content-Length says so,
// and cut off at the limit when it has none (chunked) or lies; the read
// deadline of uploads and the write deadline of streamed downloads are
// moved from the server's to the route's.
func bounded(next http.Handler, l Limits) http.Handler {
	l = l.withDefaults()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := l.MaxBodyBytes
		rc := http.NewResponseController(w)
		switch {
		case isUpload(r):
			limit = l.MaxUploadBodyBytes
			// The server's ReadTimeout is sized for JSON; a position paper
			// over a slow link needs longer, and its answer comes after it
			// (the write deadline runs from the end of the headers). Errors
			// mean the writer cannot (a test recorder): the server's
			// timeouts then stand.
			_ = rc.SetReadDeadline(time.Now().Add(l.UploadReadTimeout))
			_ = rc.SetWriteDeadline(time.Now().Add(l.UploadReadTimeout + uploadAnswerTime))
		case isStream(r):
			_ = rc.SetWriteDeadline(time.Now().Add(l.StreamWriteTimeout))
		}
		if r.ContentLength > limit {
			// Not read at all: the server closes the connection after the
			// answer rather than draining what is left.
			w.Header().Set("Connection", "close")
			writeTooLarge(w, limit)
			return
		}
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		state := &bodyLimit{limit: limit, cancel: cancel}
		body := http.MaxBytesReader(w, r.Body, limit)
		r = r.WithContext(ctx)
		r.Body = &limitedBody{rc: body, close: body.Close, state: state}
		tw := &tooLargeWriter{ResponseWriter: w, state: state}
		next.ServeHTTP(tw, r)
		if state.wasHit() && !tw.wrote {
			writeTooLarge(w, limit)
		}
	})
}

// tooLargeWriter answers 413 in place of whatever the handler answers once
// the body ran over its limit: grpc-gateway reports it as a bad request (a
// JSON syntax error) or, when the excess came after a complete request, as
// the call cancelled.
type tooLargeWriter struct {
	http.ResponseWriter
	state *bodyLimit
	wrote bool
	// swallowed: the handler's answer is replaced by the 413.
	swallowed bool
}

func (t *tooLargeWriter) WriteHeader(code int) {
	if t.wrote {
		return
	}
	t.wrote = true
	if t.state.wasHit() {
		t.swallowed = true
		writeTooLarge(t.ResponseWriter, t.state.limit)
		return
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *tooLargeWriter) Write(p []byte) (int, error) {
	if !t.wrote {
		t.WriteHeader(http.StatusOK)
	}
	if t.swallowed {
		return len(p), nil
	}
	return t.ResponseWriter.Write(p)
}

// Flush passes on to the connection, unless the answer was replaced.
func (t *tooLargeWriter) Flush() {
	if f, ok := t.ResponseWriter.(http.Flusher); ok && !t.swallowed {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (t *tooLargeWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// writeTooLarge answers 413 with a body shaped like grpc-gateway's errors
// (google.rpc.Status: code 3 is InvalidArgument), naming the limit.
func writeTooLarge(w http.ResponseWriter, limit int64) {
	h := w.Header()
	for _, k := range []string{"Content-Length", "Grpc-Metadata-Content-Type"} {
		h.Del(k)
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusRequestEntityTooLarge)
	_, _ = fmt.Fprintf(w, `{"code":3,"message":"request body larger than %s","details":[]}`+"\n", formatBytes(limit))
}

// formatBytes writes n in the largest binary unit that divides it.
func formatBytes(n int64) string {
	for _, u := range []struct {
		name   string
		factor int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.factor && n%u.factor == 0 {
			return fmt.Sprintf("%d %s", n/u.factor, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}
