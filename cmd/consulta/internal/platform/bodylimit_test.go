package platform_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// filler is an io.Reader of n bytes: prefix, then fill repeated, made as they
// are read, so that a 200 MB body costs the test nothing.
type filler struct {
	prefix []byte
	fill   byte
	n      int64 // bytes left, prefix included
}

func (f *filler) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	k := copy(p, f.prefix)
	f.prefix = f.prefix[k:]
	for i := k; i < len(p); i++ {
		p[i] = f.fill
	}
	f.n -= int64(len(p))
	return len(p), nil
}

// vmRSS is the resident set of this process (the platform runs in it), in
// bytes, from /proc/self/status.
func vmRSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/self/status")
}

// rawPost sends body to the gateway over its own connection, with a
// Content-Length or chunked, and reads the answer while the body is still
// being written: the gateway answers an oversized body before it has read
// it, and closes the connection, so the rest of the body is never sent.
func rawPost(t *testing.T, addr, path string, body io.Reader, contentLength int64) (int, string, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Minute))
	go func() {
		w := bufio.NewWriterSize(conn, 64<<10)
		fmt.Fprintf(w, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n", path, addr)
		if contentLength >= 0 {
			fmt.Fprintf(w, "Content-Length: %d\r\n\r\n", contentLength)
			_, _ = io.Copy(w, body)
		} else {
			fmt.Fprintf(w, "Transfer-Encoding: chunked\r\n\r\n")
			cw := httputil.NewChunkedWriter(w)
			_, _ = io.Copy(cw, body)
			_ = cw.Close()
			_, _ = w.WriteString("\r\n")
		}
		_ = w.Flush() // fails once the gateway closed the connection: expected
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw), err
}

// TestOversizedBodiesAreRefusedBeforeTheyAreRead sends four 200 MB bodies at
// once to the public submission endpoint, two with a Content-Length and two
// chunked (one of them a valid submission followed by 200 MB of spaces,
// which a decoder accepts before the excess is read): each gets 413 naming
// the limit, nothing is written, and the process's resident memory grows
// by less than 100 MB (without the bound it grew by more than 1 GB).
// Not parallel: other tests' platforms would blur the measurement.
func TestOversizedBodiesAreRefusedBeforeTheyAreRead(t *testing.T) {
	h := startPlatform(t)
	id := openConsultationWith(t, h, nil)
	path := "/v1/consultations/" + id + "/submissions"
	valid := fmt.Sprintf(`{"consultation_id":%q,"respondent":{"stakeholder_type":"academia","country":"PY"},"language":"es",
		"answers":[{"question_id":"q1","text":"Datos abiertos."}]}`, id)
	// The route takes a submission of a sane size: the bound is on size.
	if code, body := h.rest(http.MethodPost, path, "", jsonRaw(valid), nil); code != http.StatusOK {
		t.Fatalf("a valid submission: %d %s", code, body)
	}
	rows := func() int {
		return countRows(t, h.pool, "submission.submissions") + countRows(t, h.pool, "submission.outbox")
	}
	before := rows()

	const size = 200 << 20
	bodies := []struct {
		name   string
		body   func() io.Reader
		length int64
	}{
		{"an endless string, with Content-Length", func() io.Reader {
			return &filler{prefix: []byte(`{"respondent":{"organisation_name":"`), fill: 'a', n: size}
		}, size},
		{"an endless string, chunked", func() io.Reader {
			return &filler{prefix: []byte(`{"respondent":{"organisation_name":"`), fill: 'a', n: size}
		}, -1},
		{"a valid submission and spaces, with Content-Length", func() io.Reader {
			return &filler{prefix: []byte(valid), fill: ' ', n: size}
		}, size},
		{"a valid submission and spaces, chunked", func() io.Reader {
			return &filler{prefix: []byte(valid), fill: ' ', n: size}
		}, -1},
	}

	runtime.GC()
	debug.FreeOSMemory()
	baseline, err := vmRSS()
	if err != nil {
		t.Skipf("cannot measure resident memory: %v", err)
	}
	baseline <<= 10
	var peak atomic.Int64
	peak.Store(baseline)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if kb, err := vmRSS(); err == nil && kb<<10 > peak.Load() {
					peak.Store(kb << 10)
				}
			}
		}
	}()
	var wg sync.WaitGroup
	for _, b := range bodies {
		wg.Go(func() {
			code, answer, err := rawPost(t, strings.TrimPrefix(h.base, "http://"), path, b.body(), b.length)
			if err != nil {
				t.Errorf("%s: %v", b.name, err)
				return
			}
			if code != http.StatusRequestEntityTooLarge || !strings.Contains(answer, "request body larger than 1 MiB") {
				t.Errorf("%s: got %d %s, want 413 naming the limit of 1 MiB", b.name, code, answer)
			}
		})
	}
	wg.Wait()
	close(stop)
	<-sampled
	growth := peak.Load() - baseline
	t.Logf("resident memory: %d MB before, peak %d MB during the four bodies (+%d MB)", baseline>>20, peak.Load()>>20, growth>>20)
	if growth > 100<<20 {
		t.Errorf("resident memory grew by %d MB while refusing four 200 MB bodies; want under 100 MB", growth>>20)
	}
	// The platform is still serving, and nothing was written: an accepted
	// submission shows in both tables within milliseconds; give a leaked
	// one the time to land.
	time.Sleep(200 * time.Millisecond)
	if after := rows(); after != before {
		t.Errorf("the refused bodies wrote %d rows", after-before)
	}
}

// TestUploadRouteTakesLargerBodies: the document route is bounded by its own,
// larger limit (a 25 MiB document in base64), and refuses beyond it with 413
// naming that limit.
func TestUploadRouteTakesLargerBodies(t *testing.T) {
	t.Parallel()
	h := startPlatform(t)
	id := openConsultationWith(t, h, nil)
	addr := strings.TrimPrefix(h.base, "http://")
	docs := func() int { return countRows(t, h.pool, "submission.documents") }
	before := docs()
	// 2 MiB: over the JSON limit of other routes, under the upload limit;
	// the consultation asks for no document, which is the answer then.
	body := &filler{prefix: []byte(`{"content":"`), fill: 'A', n: 2 << 20}
	pad := bytes.NewReader([]byte(`"}`))
	code, answer, err := rawPost(t, addr, "/v1/consultations/"+id+"/documents", io.MultiReader(body, pad), 2<<20+2)
	if err != nil {
		t.Fatal(err)
	}
	if code == http.StatusRequestEntityTooLarge {
		t.Fatalf("a 2 MiB upload was refused as too large: %s", answer)
	}
	for _, length := range []int64{40 << 20, -1} {
		big := &filler{prefix: []byte(`{"content":"`), fill: 'A', n: 40 << 20}
		code, answer, err = rawPost(t, addr, "/v1/consultations/"+id+"/documents", big, length)
		if err != nil {
			t.Fatal(err)
		}
		if code != http.StatusRequestEntityTooLarge || !strings.Contains(answer, "request body larger than 34 MiB") {
			t.Errorf("a 40 MiB upload (length %d): got %d %s, want 413 naming 34 MiB", length, code, answer)
		}
	}
	if after := docs(); after != before {
		t.Errorf("refused uploads recorded %d documents", after-before)
	}
}

// jsonRaw is a JSON text that h.rest sends as it is.
type jsonRaw string

func (j jsonRaw) MarshalJSON() ([]byte, error) { return []byte(j), nil }
