package events_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/consulta-platform/consulta/pkg/devenv"
	"github.com/consulta-platform/consulta/pkg/events"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
)

func TestSubmissionSubjectsNameTheSubmission(t *testing.T) {
	const id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	sub := &eventsv1.Envelope{Type: events.SubmissionUpdated, AggregateType: "submission", AggregateId: id}
	if got, want := events.Subject(sub), events.SubmissionUpdated+"."+id; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
	other := &eventsv1.Envelope{Type: events.ConsultationOpened, AggregateType: "consultation", AggregateId: id}
	if got := events.Subject(other); got != events.ConsultationOpened {
		t.Errorf("Subject of a consultation event = %q, want its type", got)
	}
	if got := events.TypeOfSubject(events.Subject(sub)); got != events.SubmissionUpdated {
		t.Errorf("TypeOfSubject = %q", got)
	}
	if got := events.TypeOfSubject(events.CountryUpdated); got != events.CountryUpdated {
		t.Errorf("TypeOfSubject of a reference subject = %q", got)
	}
	filters := events.Filters(events.SubmissionReceived)
	if !slices.Equal(filters, []string{events.SubmissionReceived, events.SubmissionReceived + ".*"}) {
		t.Errorf("Filters = %v", filters)
	}
	// Every consumer's filter still matches: the stream's, the summary's
	// wildcard, the typed filters, the per-submission filter.
	for _, f := range []string{events.StreamSubjects, "consulta.submission.>", events.SubmissionUpdated + ".*", events.SubmissionMessages(id)} {
		if !events.SubjectMatches(f, events.Subject(sub)) {
			t.Errorf("%q does not match %q", f, events.Subject(sub))
		}
	}
	for _, tc := range []struct {
		filter, subject string
		want            bool
	}{
		{"a.*.c", "a.b.c", true},
		{"a.*.c", "a.b.d", false},
		{"a.>", "a", false},
		{"a.>", "a.b.c", true},
		{"a.b", "a.b.c", false},
		{"a.b.c", "a.b", false},
		{events.SubmissionMessages(id), events.SubmissionReceived + ".other", false},
		{events.SubmissionReceived + ".*", events.SubmissionReceived, false},
	} {
		if got := events.SubjectMatches(tc.filter, tc.subject); got != tc.want {
			t.Errorf("SubjectMatches(%q, %q) = %v", tc.filter, tc.subject, got)
		}
	}
}

// startNATS runs an in-process server on dir and returns a JetStream client.
func startNATS(t *testing.T, dir string) (*server.Server, jetstream.JetStream) {
	t.Helper()
	ns, err := devenv.NATS(devenv.NATSOptions{Port: -1, StoreDir: dir, ServerName: "events-test"})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		nc.Close()
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return ns, js
}

// TestConfigureStreamSetsAndUpdatesLimits: a stream created without limits
// (as before they existed) gets them, the defaults or the chosen ones.
func TestConfigureStreamSetsAndUpdatesLimits(t *testing.T) {
	ctx := t.Context()
	_, js := startNATS(t, t.TempDir())
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: events.StreamName, Subjects: []string{events.StreamSubjects},
		Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	s, err := events.EnsureStream(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := info.Config; c.MaxAge != 30*24*time.Hour || c.MaxBytes != 10<<30 || c.Compression != jetstream.NoCompression ||
		c.Duplicates != events.DuplicateWindow {
		t.Errorf("after EnsureStream: max age %s, max bytes %d, compression %v, duplicates %s", c.MaxAge, c.MaxBytes, c.Compression, c.Duplicates)
	}
	s, err = events.ConfigureStream(ctx, js, events.StreamSettings{MaxAge: 48 * time.Hour, MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if info, err = s.Info(ctx); err != nil {
		t.Fatal(err)
	}
	if c := info.Config; c.MaxAge != 48*time.Hour || c.MaxBytes != 1<<20 {
		t.Errorf("after ConfigureStream: max age %s, max bytes %d", c.MaxAge, c.MaxBytes)
	}
}

// storeContains reports which files under dir contain needle, read as raw
// bytes.
func storeContains(t *testing.T, dir string, needle []byte) []string {
	t.Helper()
	var hits []string
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, needle) {
			hits = append(hits, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatalf("no files under %s", dir)
	}
	return hits
}

// TestEraseSubmissionOverwritesItsMessagesInTheStoreFiles: the messages of
// an erased submission leave the stream, and their bytes leave the store's
// files, once every consumer acknowledged them; before, nothing is taken
// from a consumer. The erasure event and other submissions' messages stay.
func TestEraseSubmissionOverwritesItsMessagesInTheStoreFiles(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	const x, y = "0190a1b2-0000-7000-8000-00000000000a", "0190a1b2-0000-7000-8000-00000000000b"
	markerX1, markerX2, markerY := []byte("MARKER-OF-X-VERSION-ONE"), []byte("MARKER-OF-X-VERSION-TWO"), []byte("MARKER-OF-Y")

	ns, js := startNATS(t, dir)
	stream, err := events.EnsureStream(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Two consumers as the services have them, and one that acks nothing.
	all, err := js.CreateOrUpdateConsumer(ctx, events.StreamName, jetstream.ConsumerConfig{Durable: "all",
		FilterSubject: "consulta.submission.>", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	received, err := js.CreateOrUpdateConsumer(ctx, events.StreamName, jetstream.ConsumerConfig{Durable: "received",
		FilterSubjects: events.Filters(events.SubmissionReceived), AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateOrUpdateConsumer(ctx, events.StreamName, jetstream.ConsumerConfig{Durable: "watcher",
		AckPolicy: jetstream.AckNonePolicy}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		subject string
		data    []byte
	}{
		{events.SubmissionReceived + "." + x, markerX1},
		{events.SubmissionReceived + "." + y, markerY},
		{events.SubmissionUpdated + "." + x, markerX2},
		{events.SubmissionErased + "." + x, []byte("ids only")},
	} {
		if _, err := js.Publish(ctx, m.subject, m.data); err != nil {
			t.Fatal(err)
		}
	}

	// No consumer has acknowledged anything: nothing goes.
	n, err := events.EraseSubmission(ctx, js, x)
	if n != 0 || !errors.Is(err, events.ErrNotYetConsumed) {
		t.Fatalf("EraseSubmission before the consumers: %d, %v; want 0 and ErrNotYetConsumed", n, err)
	}
	if msgs := streamMsgs(t, stream); msgs != 4 {
		t.Fatalf("%d messages in the stream after a refused erasure, want 4", msgs)
	}
	// "received" has its messages, "all" only the first two: the update of
	// x still waits for "all", the received event of x goes.
	ackAll(t, received, 2)
	ackAll(t, all, 2)
	n, err = events.EraseSubmission(ctx, js, x)
	if n != 1 || !errors.Is(err, events.ErrNotYetConsumed) {
		t.Fatalf("EraseSubmission with the update unacknowledged: %d, %v; want 1 and ErrNotYetConsumed", n, err)
	}
	ackAll(t, all, 2)
	if n, err = events.EraseSubmission(ctx, js, x); n != 1 || err != nil {
		t.Fatalf("EraseSubmission once everything is acknowledged: %d, %v; want 1", n, err)
	}
	if n, err = events.EraseSubmission(ctx, js, x); n != 0 || err != nil {
		t.Fatalf("EraseSubmission again: %d, %v; want 0, nil", n, err)
	}

	var left []string
	for seq := uint64(1); seq <= 4; seq++ {
		if m, err := stream.GetMsg(ctx, seq); err == nil {
			left = append(left, m.Subject)
		}
	}
	if want := []string{events.SubmissionReceived + "." + y, events.SubmissionErased + "." + x}; !slices.Equal(left, want) {
		t.Errorf("left in the stream: %v, want %v", left, want)
	}

	// The files, with the server stopped so that everything is written.
	ns.Shutdown()
	ns.WaitForShutdown()
	for _, marker := range [][]byte{markerX1, markerX2} {
		if hits := storeContains(t, dir, marker); len(hits) > 0 {
			t.Errorf("%s still in %v", marker, hits)
		}
	}
	if hits := storeContains(t, dir, markerY); len(hits) == 0 {
		t.Errorf("%s is in no file: the scan reads nothing", markerY)
	}
}

func streamMsgs(t *testing.T, s jetstream.Stream) uint64 {
	t.Helper()
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// ackAll fetches n messages from c and acknowledges them.
func ackAll(t *testing.T, c jetstream.Consumer, n int) {
	t.Helper()
	batch, err := c.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for m := range batch.Messages() {
		if err := m.DoubleAck(t.Context()); err != nil {
			t.Fatal(err)
		}
		got++
	}
	if got != n {
		t.Fatalf("fetched %d messages, want %d (%v)", got, n, batch.Error())
	}
}
