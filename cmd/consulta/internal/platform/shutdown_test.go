package platform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/consulta-platform/consulta/pkg/events"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
)

// TestStopDuringLoadFailsNoAcceptedRequest stops the platform while REST
// and gRPC clients keep creating submissions. Every request must either
// succeed, and then its submission is in Postgres and its event in the
// stream once the process has stopped, or be refused before the server
// took it (connection refused, gRPC Unavailable). A request the server
// took must never fail: no 5xx, in particular no 503 from the gateway
// calling a gRPC server that stopped first.
func TestStopDuringLoadFailsNoAcceptedRequest(t *testing.T) {
	t.Parallel()
	h := startPlatform(t)
	id := openConsultationWith(t, h, nil)
	ss := submissionv1.NewSubmissionServiceClient(h.grpcConn)
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 30 * time.Second}
	t.Cleanup(httpClient.CloseIdleConnections)

	var (
		mu                    sync.Mutex
		accepted              = map[string]string{} // submission id -> request
		refused, afterStop    int
		stopping              atomic.Bool
		ok                    atomic.Int64
		wg                    sync.WaitGroup
		loadStarted, stopLoad = make(chan struct{}), make(chan struct{})
	)
	accept := func(subID, what string) {
		mu.Lock()
		defer mu.Unlock()
		accepted[subID] = what
		if stopping.Load() {
			afterStop++
		}
	}
	refuse := func() {
		mu.Lock()
		refused++
		mu.Unlock()
	}
	body := func(who string) map[string]any {
		return map[string]any{
			"respondent": map[string]any{"stakeholderType": "academia", "country": "PY", "organisationName": who},
			"language":   "es", "answers": []map[string]any{{"questionId": "q1", "text": "Datos abiertos."}},
		}
	}
	restCreate := func(who string) (done bool) {
		raw, _ := json.Marshal(body(who))
		resp, err := httpClient.Post(h.base+"/v1/consultations/"+id+"/submissions", "application/json", bytes.NewReader(raw))
		if err != nil {
			// No answer: the connection was refused or closed before the
			// request was read. Only a stopping server may do that.
			if !stopping.Load() {
				t.Errorf("REST %s before the stop: %v", who, err)
			}
			refuse()
			return true
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("REST %s: the server took the request and answered %d: %s", who, resp.StatusCode, out)
			return true
		}
		var r struct {
			Submission struct{ ID string } `json:"submission"`
		}
		if err := json.Unmarshal(out, &r); err != nil || r.Submission.ID == "" {
			t.Errorf("REST %s: %s: %v", who, out, err)
			return true
		}
		accept(r.Submission.ID, "REST "+who)
		ok.Add(1)
		return false
	}
	grpcCreate := func(who string) (done bool) {
		r, err := ss.CreateSubmission(context.Background(), &submissionv1.CreateSubmissionRequest{
			ConsultationId: id, Language: "es", Answers: answer("Datos abiertos."),
			Respondent: &submissionv1.Respondent{StakeholderType: "academia", Country: "PY", OrganisationName: who},
		})
		switch {
		case err == nil:
			accept(r.GetSubmission().GetId(), "gRPC "+who)
			ok.Add(1)
			return false
		case status.Code(err) == codes.Unavailable && stopping.Load():
			refuse()
			return true
		default:
			t.Errorf("gRPC %s: %v", who, err)
			return true
		}
	}
	for g := range 16 {
		create := restCreate
		kind := "rest"
		if g%2 == 1 {
			create, kind = grpcCreate, "grpc"
		}
		wg.Go(func() {
			<-loadStarted
			for i := 0; ; i++ {
				select {
				case <-stopLoad:
					return
				default:
				}
				if create(fmt.Sprintf("%s-%d-%d", kind, g, i)) {
					return
				}
			}
		})
	}
	close(loadStarted)
	for ok.Load() < 40 {
		time.Sleep(5 * time.Millisecond)
	}
	stopping.Store(true)
	h.cancel()
	var runErr error
	select {
	case runErr = <-h.done:
		h.done <- runErr // for the harness's own stop
	case <-time.After(60 * time.Second):
		t.Fatal("the platform did not stop within 60s")
	}
	close(stopLoad)
	wg.Wait()
	if runErr != nil {
		t.Errorf("platform.Run: %v", runErr)
	}
	t.Logf("%d requests accepted (%d of them answered after the stop began), %d refused", len(accepted), afterStop, refused)

	// Every accepted submission is stored, and its event was published.
	ctx := context.Background()
	for subID, what := range accepted {
		var n int
		if err := h.pool.QueryRow(ctx, `SELECT count(*) FROM submission.submissions WHERE id = $1`, subID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("%s was answered with submission %s, which is not in the database", what, subID)
		}
	}
	var unpublished int
	if err := h.pool.QueryRow(ctx, `SELECT count(*) FROM submission.outbox WHERE published_at IS NULL`).Scan(&unpublished); err != nil {
		t.Fatal(err)
	}
	if unpublished != 0 {
		t.Errorf("%d outbox rows were left unpublished by the stop", unpublished)
	}
	inStream := map[string]bool{}
	for _, ev := range streamEvents(t, h) {
		if events.TypeOfSubject(ev.subject) == events.SubmissionReceived {
			inStream[ev.aggregateID] = true
		}
	}
	for subID, what := range accepted {
		if !inStream[subID] {
			t.Errorf("the event of %s (submission %s) is not in the stream", what, subID)
		}
	}
}
