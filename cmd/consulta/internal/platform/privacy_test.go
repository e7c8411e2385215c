package platform_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/devenv"
	"github.com/consulta-platform/consulta/pkg/events"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	summaryv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/summary/v1"
	"github.com/consulta-platform/consulta/pkg/jobs"
	"github.com/consulta-platform/consulta/services/worker"
)

// lockedBuffer collects the log output of every goroutine of the platform.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// TestErasureReachesEveryCopy is issue 4's end-to-end test. An individual
// submits with a distinctive address, name and text and edits the text;
// the events reach every consumer (summary, worker, consultation); the
// secretariat erases the address over REST. Then none of the address, the
// name or either text is in any file of the JetStream store (read raw, with
// the server stopped), any row of any table of any schema in Postgres
// (outbox and inbox payloads, projections, mail queue included), any key or
// value of the job queues in Redis, or anything the platform logged (at
// debug level). Each scan is shown to read what it claims: the submission's
// id is found in the stream's files, the job queues and the logs, and the
// address in Postgres before the erasure.
func TestErasureReachesEveryCopy(t *testing.T) {
	t.Parallel()
	const (
		email = "zq.erasure-probe@example.org"
		name  = "Quillon Vexmarch-Probe"
		text1 = "Zephyrine marmalade paradox seventeen"
		text2 = "Obsidian lanternfish accord ninety-one"
	)
	needles := []string{email, name, text1, text2}

	storeDir := t.TempDir()
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(logs, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	ns, err := devenv.NATS(devenv.NATSOptions{Port: -1, StoreDir: storeDir, ServerName: "privacy-test", Log: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	h := startPlatformWith(t, func(c *platformConfig) {
		c.NATSURL = ns.ClientURL()
		c.Logger = logger
	})
	h.natsURL = ns.ClientURL()
	ctx := context.Background()

	id := openConsultationWith(t, h, func(r *consultationv1.CreateConsultationRequest) {
		r.Questions = append(r.Questions, &consultationv1.Question{Id: "sector", Text: es("Sector"),
			Kind: &consultationv1.Question_ChoiceQuestion{ChoiceQuestion: &consultationv1.ChoiceQuestion{Options: []*consultationv1.Option{
				{Id: "public", Label: es("Público")}, {Id: "private", Label: es("Privado")}}}}})
	})
	ss := submissionv1.NewSubmissionServiceClient(h.grpcConn)
	respondent := &submissionv1.Respondent{StakeholderType: "individual", Country: "PY",
		OrganisationName: name, PersonName: name, ContactEmail: email}
	answers := func(text string) []*submissionv1.Answer {
		return append(answer(text), &submissionv1.Answer{QuestionId: "sector",
			Value: &submissionv1.Answer_Choice{Choice: &submissionv1.Choice{OptionIds: []string{"public"}}}})
	}
	created, err := ss.CreateSubmission(ctx, &submissionv1.CreateSubmissionRequest{ConsultationId: id, Respondent: respondent,
		Language: "es", Answers: answers(text1), Publication: consultationv1.Publication_PUBLICATION_PUBLIC_NAMED})
	if err != nil {
		t.Fatal(err)
	}
	subID := created.GetSubmission().GetId()
	if _, err := ss.UpdateSubmission(ctx, &submissionv1.UpdateSubmissionRequest{Id: subID, Version: 1,
		EditSecret: created.GetEditSecret(), Respondent: respondent, Language: "es", Answers: answers(text2),
		Publication: consultationv1.Publication_PUBLICATION_PUBLIC_NAMED}); err != nil {
		t.Fatal(err)
	}

	// Every consumer has the events: the summary counts the submission,
	// the worker ran the translation job (it follows creations only),
	// nothing is pending anywhere.
	sum := summaryv1.NewSummaryServiceClient(h.grpcConn)
	eventually(t, 15*time.Second, "the summary counts the submission", func() error {
		s, err := sum.GetSummary(ctx, &summaryv1.GetSummaryRequest{ConsultationId: id})
		if err != nil {
			return err
		}
		if s.GetSummary().GetTotal() != 1 || s.GetSummary().GetByStakeholderType()["individual"] != 1 {
			return fmt.Errorf("summary %v", s.GetSummary())
		}
		return nil
	})
	taskID := worker.TranslateSubmissionTaskID(subID, 1)
	eventually(t, 15*time.Second, "translation job", func() error {
		info, err := taskInfo(h, jobs.QueueDefault, taskID)
		if err != nil {
			return err
		}
		if info.State != asynq.TaskStateCompleted {
			return fmt.Errorf("task %s is %s", taskID, info.State)
		}
		return nil
	})
	js := natsJS(t, h)
	consumersCaughtUp(t, js)

	pgBefore := dumpPostgres(t, h)
	if !bytes.Contains(pgBefore, []byte(email)) || !bytes.Contains(pgBefore, []byte(text2)) {
		t.Fatal("the Postgres dump does not hold the address and text before the erasure: it reads nothing")
	}

	// The erasure, over REST, as the secretariat.
	code, body := h.rest("POST", "/v1/personal-data:erase", h.token(auth.RoleSecretariat, "", "dpo"),
		map[string]any{"email": email, "reason": "request DPR-e2e"}, nil)
	if code != http.StatusOK {
		t.Fatalf("erase: %d %s", code, body)
	}
	stream, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the submission's messages leave the stream", func() error {
		var left []string
		for seq := uint64(1); ; {
			m, err := stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(events.SubmissionMessages(subID)))
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				break
			}
			if err != nil {
				return err
			}
			seq = m.Sequence + 1
			left = append(left, m.Subject)
		}
		if len(left) != 1 || left[0] != events.SubmissionErased+"."+subID {
			return fmt.Errorf("messages of the submission: %v", left)
		}
		return nil
	})
	consumersCaughtUp(t, js)

	// Postgres: every row of every table of every schema.
	pg := dumpPostgres(t, h)
	for _, n := range needles {
		if bytes.Contains(bytes.ToLower(pg), bytes.ToLower([]byte(n))) {
			t.Errorf("Postgres still holds %q", n)
		}
	}
	// Redis: every key of this test's job queues, with its value.
	rd := dumpRedis(t, h)
	if !bytes.Contains(rd, []byte(subID)) {
		t.Fatal("the Redis dump does not hold the submission id: it reads nothing")
	}
	for _, n := range needles {
		if bytes.Contains(rd, []byte(n)) {
			t.Errorf("Redis still holds %q", n)
		}
	}

	// Stop everything, so that every file is written and every line logged.
	h.cancel()
	if err := <-h.done; err != nil {
		t.Errorf("platform.Run: %v", err)
	}
	h.done <- nil // for the harness's own stop at cleanup
	ns.Shutdown()
	ns.WaitForShutdown()

	files := 0
	var storeHasID bool
	if err := filepath.WalkDir(storeDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		storeHasID = storeHasID || bytes.Contains(b, []byte(subID))
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				t.Errorf("%s holds %q", path, n)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !storeHasID {
		t.Errorf("no file of the %d under %s holds the submission id: the scan reads nothing", files, storeDir)
	}
	lg := logs.bytes()
	if !bytes.Contains(lg, []byte(subID)) {
		t.Error("the logs never name the submission: the capture reads nothing")
	}
	for _, n := range needles {
		if bytes.Contains(lg, []byte(n)) {
			t.Errorf("the logs hold %q", n)
		}
	}
}

// consumersCaughtUp waits until every consumer of the stream has received
// and acknowledged every message it takes.
func consumersCaughtUp(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx := context.Background()
	stream, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "every consumer caught up", func() error {
		lister := stream.ListConsumers(ctx)
		var behind []string
		n := 0
		for info := range lister.Info() {
			n++
			if info.NumPending > 0 || info.NumAckPending > 0 {
				behind = append(behind, fmt.Sprintf("%s (%d pending, %d unacknowledged)", info.Name, info.NumPending, info.NumAckPending))
			}
		}
		if err := lister.Err(); err != nil {
			return err
		}
		if n < 8 {
			return fmt.Errorf("only %d consumers", n)
		}
		if len(behind) > 0 {
			return errors.New(strings.Join(behind, ", "))
		}
		return nil
	})
}

// dumpPostgres returns every row of every table of every schema of the
// test's database, each column as the bytes Postgres sends (bytea raw).
func dumpPostgres(t *testing.T, h *harness) []byte {
	t.Helper()
	ctx := context.Background()
	rows, err := h.pool.Query(ctx, `SELECT schemaname, tablename FROM pg_tables
		WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	type table struct{ schema, name string }
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (table, error) {
		var x table
		return x, r.Scan(&x.schema, &x.name)
	})
	if err != nil {
		t.Fatal(err)
	}
	schemas := map[string]bool{}
	var out bytes.Buffer
	for _, tb := range tables {
		schemas[tb.schema] = true
		rows, err := h.pool.Query(ctx, "SELECT * FROM "+pgx.Identifier{tb.schema, tb.name}.Sanitize())
		if err != nil {
			t.Fatalf("dump %s.%s: %v", tb.schema, tb.name, err)
		}
		for rows.Next() {
			for _, v := range rows.RawValues() {
				out.Write(v)
				out.WriteByte(0)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("dump %s.%s: %v", tb.schema, tb.name, err)
		}
	}
	for _, s := range []string{"consultation", "submission", "summary"} {
		if !schemas[s] {
			t.Fatalf("no tables in schema %s: %v", s, tables)
		}
	}
	return out.Bytes()
}

// dumpRedis returns the keys of the test's job queues with their values,
// whatever their type.
func dumpRedis(t *testing.T, h *harness) []byte {
	t.Helper()
	ctx := context.Background()
	opt, err := redis.ParseURL(h.jobs.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opt)
	defer rc.Close()
	var out bytes.Buffer
	keys := 0
	iter := rc.Scan(ctx, 0, "*"+h.jobs.QueuePrefix+"*", 500).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		keys++
		out.WriteString(key + "\x00")
		typ, err := rc.Type(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		var vals []string
		switch typ {
		case "string":
			v, err := rc.Get(ctx, key).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				t.Fatal(err)
			}
			vals = []string{v}
		case "hash":
			m, err := rc.HGetAll(ctx, key).Result()
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range m {
				vals = append(vals, k, v)
			}
		case "list":
			vals, err = rc.LRange(ctx, key, 0, -1).Result()
		case "set":
			vals, err = rc.SMembers(ctx, key).Result()
		case "zset":
			vals, err = rc.ZRange(ctx, key, 0, -1).Result()
		case "none":
		default:
			t.Fatalf("key %s of type %s", key, typ)
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			out.WriteString(v + "\x00")
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	if keys == 0 {
		t.Fatalf("no Redis keys with prefix %q", h.jobs.QueuePrefix)
	}
	return out.Bytes()
}
