package platform_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/consulta-platform/consulta/pkg/auth"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
)

// TestConcurrentWritesDoNotDeadlock runs 50 edits and withdrawals of three
// submissions at once, with co-lead changes (SetThematicAreaCoLeads) and
// co-leads' edits of the consultation and its dialogue, on a pool of two
// connections. A
// transaction that needed a second connection for a read would wait for
// one while holding one, and two of them would wait for each other until
// their deadline. Every request must end well within its deadline, either
// done or refused cleanly as a conflict.
func TestConcurrentWritesDoNotDeadlock(t *testing.T) {
	t.Parallel()
	h := startPlatformWith(t, func(c *platformConfig) {
		c.DBMaxConns = 2
	})
	id := openConsultationWith(t, h, nil)
	ss := submissionv1.NewSubmissionServiceClient(h.grpcConn)
	cs := consultationv1.NewConsultationServiceClient(h.grpcConn)
	rs := consultationv1.NewReferenceServiceClient(h.grpcConn)

	type sub struct {
		id, secret string
		version    atomic.Int64
	}
	subs := make([]*sub, 3)
	respondent := &submissionv1.Respondent{StakeholderType: "academia", Country: "NL"}
	for i := range subs {
		r, err := ss.CreateSubmission(context.Background(), &submissionv1.CreateSubmissionRequest{
			ConsultationId: id, Respondent: respondent, Language: "es", Answers: answer(fmt.Sprintf("Versión inicial %d.", i)),
		})
		if err != nil {
			t.Fatal(err)
		}
		subs[i] = &sub{id: r.GetSubmission().GetId(), secret: r.GetEditSecret()}
		subs[i].version.Store(r.GetSubmission().GetVersion())
	}

	c, err := cs.GetConsultation(context.Background(), &consultationv1.GetConsultationRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	d, err := cs.GetDialogue(context.Background(), &consultationv1.GetDialogueRequest{Id: c.GetConsultation().GetDialogueId()})
	if err != nil {
		t.Fatal(err)
	}
	dialogue := d.GetDialogue()
	var dialogueVersion atomic.Int64
	dialogueVersion.Store(dialogue.GetVersion())

	const deadline = 30 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	secretariat := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+h.token(auth.RoleSecretariat, "", "sec"))
	colead := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+h.token(auth.RoleColead, "PY", "colead-py"))

	var mu sync.Mutex
	outcomes := map[string]map[codes.Code]int{}
	record := func(op string, err error) {
		mu.Lock()
		defer mu.Unlock()
		if outcomes[op] == nil {
			outcomes[op] = map[codes.Code]int{}
		}
		outcomes[op][status.Code(err)]++
		switch status.Code(err) {
		case codes.OK, codes.Aborted, codes.FailedPrecondition:
		default:
			t.Errorf("%s: %v", op, err)
		}
	}

	start := make(chan struct{})
	var wg sync.WaitGroup
	run := func(op string, call func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			record(op, call())
		}()
	}
	for i := range 50 {
		s := subs[i%len(subs)]
		if i%10 == 9 {
			// Withdrawals spare the last submission: were all three
			// withdrawn before any edit ran, no edit could succeed, and
			// the test would say nothing of edits.
			s := subs[i%(len(subs)-1)]
			run("withdraw", func() error {
				_, err := ss.WithdrawSubmission(ctx, &submissionv1.WithdrawSubmissionRequest{Id: s.id, EditSecret: s.secret})
				return err
			})
			continue
		}
		run("edit", func() error {
			v := s.version.Load()
			r, err := ss.UpdateSubmission(ctx, &submissionv1.UpdateSubmissionRequest{
				Id: s.id, Version: v, EditSecret: s.secret, Respondent: respondent, Language: "es",
				Answers: answer(fmt.Sprintf("Edición %d.", i)),
			})
			if err == nil {
				s.version.CompareAndSwap(v, r.GetSubmission().GetVersion())
			}
			return err
		})
	}
	for i := range 10 {
		countries := []string{"PY", "NL"}
		if i%2 == 1 {
			countries = append(countries, "ES")
		}
		run("set co-leads", func() error {
			_, err := rs.SetThematicAreaCoLeads(secretariat, &consultationv1.SetThematicAreaCoLeadsRequest{
				ThematicArea: "data_governance", Countries: countries})
			return err
		})
		run("co-lead edit", func() error {
			_, err := cs.ReviewTranslation(colead, &consultationv1.ReviewTranslationRequest{
				Id: id, TextPath: "title", Language: "pt", Text: fmt.Sprintf("Dados %d", i)})
			return err
		})
		run("dialogue edit", func() error {
			v := dialogueVersion.Load()
			r, err := cs.UpdateDialogue(colead, &consultationv1.UpdateDialogueRequest{
				Id: dialogue.GetId(), Version: v, Title: fmt.Sprintf("Datos %d", i), StartsAt: dialogue.GetStartsAt()})
			if err == nil {
				dialogueVersion.CompareAndSwap(v, r.GetDialogue().GetVersion())
			}
			return err
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(began)
	t.Logf("80 concurrent writes on a pool of 2 connections took %s: %v", elapsed.Round(time.Millisecond), outcomes)

	for _, op := range []string{"edit", "set co-leads", "co-lead edit", "dialogue edit"} {
		if outcomes[op][codes.OK] == 0 {
			t.Errorf("no %s succeeded: %v", op, outcomes[op])
		}
	}
	// Every version that was accepted has its row and its receipt.
	for _, s := range subs {
		var version, versions, receipts int64
		err := h.pool.QueryRow(context.Background(), `SELECT s.version,
			(SELECT count(*) FROM submission.submission_versions v WHERE v.submission_id = s.id),
			(SELECT count(*) FROM submission.receipts r WHERE r.submission_id = s.id)
			FROM submission.submissions s WHERE s.id = $1`, s.id).Scan(&version, &versions, &receipts)
		if err != nil {
			t.Fatal(err)
		}
		if versions != version || receipts != version {
			t.Errorf("submission %s at version %d has %d versions and %d receipts", s.id, version, versions, receipts)
		}
	}
	var seqs []int64
	rows, err := h.pool.Query(context.Background(), `SELECT seq FROM submission.receipts WHERE consultation_id = $1`, id)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, n)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for i, n := range seqs {
		if n != int64(i+1) {
			t.Fatalf("the chain of receipts has a gap or a duplicate at %d: %v", i+1, seqs)
		}
	}
}
