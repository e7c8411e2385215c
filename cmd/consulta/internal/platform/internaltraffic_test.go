package platform_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/consulta-platform/consulta/cmd/consulta/internal/platform"
	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/events"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/pkg/testenv"
)

// TestNATSRefusesConnectionsWithoutCredentials: the server the platform
// tests run on (the same configuration as `consulta dev`'s) turns away a
// client without credentials or with a wrong password, and so does
// platform.New, with an error that says what failed and no password in it.
func TestNATSRefusesConnectionsWithoutCredentials(t *testing.T) {
	t.Parallel()
	bus := testenv.NATSWithUsers(t)
	if nc, err := nats.Connect(bus.URL); err == nil {
		nc.Close()
		t.Fatal("connected without credentials")
	} else if !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("without credentials: %v, want an authorization violation", err)
	}
	if nc, err := nats.Connect(bus.URL, nats.UserInfo("submission", "guess")); err == nil {
		nc.Close()
		t.Fatal("connected with a wrong password")
	}
	nc, err := nats.Connect(bus.URL, nats.UserInfo("submission", bus.Passwords["submission"]))
	if err != nil {
		t.Fatalf("with the submission service's credentials: %v", err)
	}
	nc.Close()

	_, err = platform.New(context.Background(), platform.Config{Services: []string{"worker"}, NATSURL: bus.URL,
		NATS: platform.NATSAuth{User: "worker", Password: "wrong-password"}, RedisURL: testenv.RedisURL(t)})
	if err == nil || !strings.Contains(err.Error(), "connect to NATS") || strings.Contains(err.Error(), "wrong-password") {
		t.Errorf("platform.New with a wrong password: %v, want a NATS connection error without the password", err)
	}
}

// TestForgedConsultationEventIsRefused publishes, with the submission
// service's NATS credentials, a consulta.consultation.updated that would
// close an open consultation at a version far ahead of the real one (which
// would also make the read model ignore every later real event). The server
// refuses it (permissions violation), the read model keeps following the
// real events, and the consultation stays open to submissions. The same
// message from the consultation service's user is applied: the refusal is
// the server's permissions, not a malformed message.
func TestForgedConsultationEventIsRefused(t *testing.T) {
	t.Parallel()
	h := startPlatform(t)
	h.assignCoLeads("cybersecurity", "BR", "ES")
	colead := h.token(auth.RoleColead, "ES", "colead-es")
	c := openConsultation(t, h, colead)

	forged := forgedClose(t, c, c.GetVersion()+1_000_000)
	refused := make(chan error, 1)
	nc, err := nats.Connect(h.bus.URL, nats.UserInfo("submission", h.bus.Passwords["submission"]),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case refused <- err:
			default:
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.PublishMsg(forged); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-refused:
		if !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
			t.Errorf("publish as submission: %v, want a permissions violation", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not refuse the forged event")
	}

	// A real change after the forgery reaches the read model: had the
	// forged version been stored, this one would be ignored.
	cs := consultationv1.NewConsultationServiceClient(h.grpcConn)
	ext, err := cs.ExtendConsultation(h.grpcCtx(colead), &consultationv1.ExtendConsultationRequest{Id: c.GetId(), Version: c.GetVersion(),
		ClosesAt: timestamppb.New(c.GetClosesAt().AsTime().Add(24 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	readModel := func() (version int64, status string, err error) {
		err = h.pool.QueryRow(context.Background(),
			`SELECT version, status FROM submission.consultations WHERE id = $1`, c.GetId()).Scan(&version, &status)
		return version, status, err
	}
	eventually(t, 10*time.Second, "the read model follows the real change", func() error {
		v, st, err := readModel()
		if err != nil {
			return err
		}
		if v != ext.GetConsultation().GetVersion() || st != "open" {
			return fmt.Errorf("read model at version %d, %s; want %d, open", v, st, ext.GetConsultation().GetVersion())
		}
		return nil
	})
	ss := submissionv1.NewSubmissionServiceClient(h.grpcConn)
	if _, err := ss.CreateSubmission(context.Background(), &submissionv1.CreateSubmissionRequest{ConsultationId: c.GetId(),
		Respondent: &submissionv1.Respondent{StakeholderType: "academia", Country: "ES"},
		Answers:    []*submissionv1.Answer{{QuestionId: "q1", Value: &submissionv1.Answer_Text{Text: "Sí"}}}}); err != nil {
		t.Errorf("submission after the forgery: %v", err)
	}

	// The control: the consultation service's user may publish it, and the
	// forged version then sticks.
	var once sync.Once
	owner, err := nats.Connect(h.bus.URL, nats.UserInfo("consultation", h.bus.Passwords["consultation"]),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			once.Do(func() { t.Errorf("publish as consultation: %v", err) })
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	forged = forgedClose(t, ext.GetConsultation(), ext.GetConsultation().GetVersion()+1_000_000)
	if err := owner.PublishMsg(forged); err != nil {
		t.Fatal(err)
	}
	if err := owner.Flush(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the control event is applied", func() error {
		v, st, err := readModel()
		if err != nil {
			return err
		}
		if v != ext.GetConsultation().GetVersion()+1_000_000 || st == "open" {
			return fmt.Errorf("read model at version %d, %s", v, st)
		}
		return nil
	})
}

// forgedClose is a consulta.consultation.updated for c, closed, at version.
func forgedClose(t *testing.T, c *consultationv1.Consultation, version int64) *nats.Msg {
	t.Helper()
	snap := proto.CloneOf(c)
	snap.Version = version
	snap.Status = consultationv1.ConsultationStatus_CONSULTATION_STATUS_CLOSED
	env, err := events.New(events.ConsultationUpdated, events.Aggregate{Type: "consultation", ID: c.GetId(), Version: version},
		&consultationv1.ConsultationUpdatedEvent{Consultation: snap}, time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	data, err := events.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	msg := nats.NewMsg(events.ConsultationUpdated)
	msg.Data = data
	msg.Header.Set(events.HeaderType, events.ConsultationUpdated)
	msg.Header.Set(nats.MsgIdHdr, env.GetId())
	return msg
}

// TestMetricsOnlyOnTheirOwnListener: /metrics is served on the metrics
// address, which deployments keep private, and not on the public gateway.
func TestMetricsOnlyOnTheirOwnListener(t *testing.T) {
	t.Parallel()
	h := startPlatform(t)
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("http://" + h.metricsAddr + "/metrics")
	if code != http.StatusOK || !strings.Contains(body, "grpc_server_handled_total") {
		t.Fatalf("metrics listener: %d, %.200s", code, body)
	}
	for _, path := range []string{"/metrics", "/metrics/", "/v1/metrics"} {
		if code, body := get(h.base + path); code == http.StatusOK || strings.Contains(body, "go_goroutines") {
			t.Errorf("gateway %s: %d %.200s", path, code, body)
		}
	}
}

// TestOnlyTheConsultationServiceConfiguresTheStream: a stream's
// configuration can rewrite the subject of what it stores (a subject
// transform from consulta.submission.> to consulta.consultation.updated
// would turn the submission service's messages into consultation events),
// so the submission service's user may not update the stream, nor delete or
// purge it; the consultation service's user, which creates it, may.
func TestOnlyTheConsultationServiceConfiguresTheStream(t *testing.T) {
	t.Parallel()
	h := startPlatform(t) // creates the stream
	js := func(user string) jetstream.JetStream {
		nc, err := nats.Connect(h.bus.URL, nats.UserInfo(user, h.bus.Passwords[user]))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	ctx := context.Background()
	sub := js("submission")
	stream, err := sub.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatalf("the submission user reads the stream's configuration: %v", err)
	}
	cfg := stream.CachedInfo().Config
	rewrite := cfg
	rewrite.SubjectTransform = &jetstream.SubjectTransformConfig{Source: "consulta.submission.received.*", Destination: events.ConsultationUpdated}
	short := func() context.Context {
		c, cancel := context.WithTimeout(ctx, 3*time.Second)
		t.Cleanup(cancel)
		return c
	}
	if _, err := sub.UpdateStream(short(), rewrite); err == nil {
		t.Error("the submission user updated the stream")
	}
	if err := sub.DeleteStream(short(), events.StreamName); err == nil {
		t.Error("the submission user deleted the stream")
	}
	if err := stream.Purge(short()); err == nil {
		t.Error("the submission user purged the stream")
	}
	info, err := js("admin").Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if tr := info.CachedInfo().Config.SubjectTransform; tr != nil {
		t.Errorf("the stream rewrites subjects: %+v", tr)
	}
	// The control: the consultation user may update it (here to the same
	// configuration).
	if _, err := js("consultation").UpdateStream(short(), cfg); err != nil {
		t.Errorf("the consultation user updates the stream: %v", err)
	}
}
