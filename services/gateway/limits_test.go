package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// slowServer serves h behind bounded, with short server-wide timeouts.
func slowServer(t *testing.T, h http.Handler, l Limits) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(bounded(h, l))
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Config.WriteTimeout = 300 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// exchange writes a request's head, waits, writes its body, and reads the
// answer; it returns the status, or 0 when the server closed the
// connection without one.
func exchange(t *testing.T, addr, method, path string, pause time.Duration, body string) int {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", method, path, len(body))
	time.Sleep(pause)
	_, _ = io.WriteString(conn, body)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); err != nil {
		return 0
	}
	return resp.StatusCode
}

// TestSlowBodiesAreCutOffButUploadsHaveLonger: the server's read timeout
// ends a body that takes too long on a JSON route; the upload route has its
// own, longer deadline.
func TestSlowBodiesAreCutOffButUploadsHaveLonger(t *testing.T) {
	read := func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
	}
	addr := slowServer(t, http.HandlerFunc(read), Limits{UploadReadTimeout: 5 * time.Second})
	if code := exchange(t, addr, http.MethodPost, "/v1/consultations/c1/submissions", time.Second, "{}"); code == http.StatusOK {
		t.Errorf("a body that took 1s past a 300ms read timeout was read")
	}
	if code := exchange(t, addr, http.MethodPost, "/v1/consultations/c1/documents", time.Second, "{}"); code != http.StatusOK {
		t.Errorf("an upload whose body took 1s, within its 5s deadline: %d", code)
	}
}

// TestSlowResponsesAreCutOffButDownloadsHaveLonger: the server's write
// timeout ends a response that takes too long; the open data downloads have
// their own, longer deadline.
func TestSlowResponsesAreCutOffButDownloadsHaveLonger(t *testing.T) {
	slow := func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(time.Second)
		_, _ = io.WriteString(w, "late")
	}
	addr := slowServer(t, http.HandlerFunc(slow), Limits{StreamWriteTimeout: 5 * time.Second})
	if code := exchange(t, addr, http.MethodGet, "/v1/consultations/c1", 0, ""); code != 0 {
		t.Errorf("a response 1s past a 300ms write timeout arrived: %d", code)
	}
	for _, p := range []string{"/v1/consultations/c1/open-data.csv", "/v1/consultations/c1/open-data.ndjson", "/v1/consultations/c1/open-data"} {
		if code := exchange(t, addr, http.MethodGet, p, 0, ""); code != http.StatusOK {
			t.Errorf("%s: a download 1s long, within its 5s deadline: %d", p, code)
		}
	}
}

// TestBodyLimitsPerRoute: each route has its limit, a Content-Length over
// it is refused without reading, and a body without one is cut off at it;
// either way 413 names the limit, whatever the handler answered.
func TestBodyLimitsPerRoute(t *testing.T) {
	var reached int
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached++
		if _, err := io.ReadAll(r.Body); err != nil {
			// What grpc-gateway answers for a body it could not read.
			http.Error(w, `{"code":3,"message":"bad body"}`, http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	srv := httptest.NewServer(bounded(h, Limits{MaxBodyBytes: 1 << 10, MaxUploadBodyBytes: 4 << 10}))
	t.Cleanup(srv.Close)
	post := func(path string, n int, chunked bool) (int, string) {
		var body io.Reader = strings.NewReader(strings.Repeat("a", n))
		if chunked {
			body = io.MultiReader(body) // no length known: sent chunked
		}
		resp, err := http.Post(srv.URL+path, "application/json", body)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	for _, c := range []struct {
		path    string
		n       int
		chunked bool
		want    int
		limit   string
	}{
		{"/v1/consultations/c1/submissions", 1 << 10, false, http.StatusOK, ""},
		{"/v1/consultations/c1/submissions", 1<<10 + 1, false, http.StatusRequestEntityTooLarge, "1 KiB"},
		{"/v1/consultations/c1/submissions", 1<<10 + 1, true, http.StatusRequestEntityTooLarge, "1 KiB"},
		{"/v1/consultations/c1/documents", 4 << 10, true, http.StatusOK, ""},
		{"/v1/consultations/c1/documents", 4<<10 + 1, false, http.StatusRequestEntityTooLarge, "4 KiB"},
		{"/v1/consultations/c1/documents", 4<<10 + 1, true, http.StatusRequestEntityTooLarge, "4 KiB"},
		{"/v1/consultations/c1/other/documents", 2 << 10, false, http.StatusRequestEntityTooLarge, "1 KiB"},
	} {
		code, body := post(c.path, c.n, c.chunked)
		if code != c.want || (c.limit != "" && !strings.Contains(body, "request body larger than "+c.limit)) {
			t.Errorf("%s, %d bytes (chunked %v): %d %s; want %d naming %q", c.path, c.n, c.chunked, code, body, c.want, c.limit)
		}
	}
	before := reached
	if code, _ := post("/v1/consultations/c1/submissions", 1<<20, false); code != http.StatusRequestEntityTooLarge || reached != before {
		t.Errorf("a body whose Content-Length is over the limit reached the handler (%d)", code)
	}
}
