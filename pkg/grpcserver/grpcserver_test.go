package grpcserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/consulta-platform/consulta/pkg/auth"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	summaryv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/summary/v1"
	"github.com/consulta-platform/consulta/pkg/grpcserver"
)

// Consultation ids that make the test handlers misbehave.
const (
	okID        = "0192f0c4-6a4e-7b5e-9d3c-1a2b3c4d5e6f"
	panicID     = "0192f0c4-6a4e-7b5e-9d3c-00000000dead"
	plainErrID  = "0192f0c4-6a4e-7b5e-9d3c-0000000000e1"
	semanticID  = "0192f0c4-6a4e-7b5e-9d3c-0000000000e2"
	pgDownID    = "0192f0c4-6a4e-7b5e-9d3c-0000000000e3"
	redisDownID = "0192f0c4-6a4e-7b5e-9d3c-0000000000e4"
)

// closedAddr is an address where nothing listens: a dependency that is down.
func closedAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// summaryServer echoes the caller it sees in by_stakeholder_type.
type summaryServer struct {
	summaryv1.UnimplementedSummaryServiceServer
}

func (summaryServer) GetSummary(ctx context.Context, req *summaryv1.GetSummaryRequest) (*summaryv1.GetSummaryResponse, error) {
	switch req.GetConsultationId() {
	case panicID:
		panic("boom")
	case plainErrID:
		return nil, errors.New("query summaries: password authentication failed for user consulta")
	case pgDownID:
		// A real pool, pointed at a Postgres that is not there.
		pool, err := pgxpool.New(ctx, "postgres://consulta@"+closedAddr()+"/consulta?connect_timeout=2")
		if err != nil {
			return nil, err
		}
		defer pool.Close()
		_, err = pool.Exec(ctx, "SELECT 1")
		return nil, fmt.Errorf("query summaries: %w", err)
	case redisDownID:
		rdb := redis.NewClient(&redis.Options{Addr: closedAddr(), MaxRetries: -1})
		defer rdb.Close()
		return nil, fmt.Errorf("read counters: %w", rdb.Get(ctx, "k").Err())
	case semanticID:
		return nil, grpcserver.InvalidArgument(grpcserver.FieldViolation{Field: "consultation_id", Description: "no consultation with this id is open"})
	}
	return &summaryv1.GetSummaryResponse{Summary: &summaryv1.Summary{
		ConsultationId:    req.GetConsultationId(),
		ByStakeholderType: map[string]int64{callerKey(auth.FromContext(ctx)): 1},
	}}, nil
}

func callerKey(p auth.Principal) string {
	return p.Subject + "/" + string(p.Role) + "/" + p.Country
}

type consultationServer struct {
	consultationv1.UnimplementedConsultationServiceServer
}

// A bidirectional stream service declared by hand, to exercise the stream
// interceptors: it echoes each request's consultation id.
const echoMethod = "/consulta.test.v1.EchoService/Echo"

var echoDesc = grpc.ServiceDesc{
	ServiceName: "consulta.test.v1.EchoService",
	HandlerType: (*any)(nil),
	Streams: []grpc.StreamDesc{{
		StreamName:    "Echo",
		Handler:       echo,
		ServerStreams: true,
		ClientStreams: true,
	}},
}

func echo(_ any, ss grpc.ServerStream) error {
	for {
		req := new(summaryv1.GetSummaryRequest)
		err := ss.RecvMsg(req)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if req.GetConsultationId() == panicID {
			panic("stream boom")
		}
		resp := &summaryv1.GetSummaryResponse{Summary: &summaryv1.Summary{
			ConsultationId:    req.GetConsultationId(),
			ByStakeholderType: map[string]int64{callerKey(auth.FromContext(ss.Context())): 1},
		}}
		if err := ss.SendMsg(resp); err != nil {
			return err
		}
	}
}

var testPolicy = auth.Policy{
	summaryv1.SummaryService_GetSummary_FullMethodName:               {auth.RoleSecretariat, auth.RoleColead},
	consultationv1.ConsultationService_CreateDialogue_FullMethodName: {auth.RoleSecretariat, auth.RoleColead},
	echoMethod: {auth.RoleStakeholder},
}

// syncBuffer collects log output written from server goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the JSON log records whose msg is msg.
func (b *syncBuffer) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

type env struct {
	srv     *grpcserver.Server
	conn    *grpc.ClientConn
	key     *auth.DevKey
	reg     *prometheus.Registry
	logs    *syncBuffer
	skew    atomic.Int64 // added to the verifier's clock
	summary summaryv1.SummaryServiceClient
	consult consultationv1.ConsultationServiceClient
}

// newEnv starts a server on an in-memory listener with the test services
// registered. MarkServing is left to the caller.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{reg: prometheus.NewRegistry(), logs: &syncBuffer{}}
	key, err := auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "dev.pem"))
	if err != nil {
		t.Fatal(err)
	}
	e.key = key
	verifier, err := auth.NewVerifier(t.Context(), auth.VerifierConfig{
		JWKS:     key.JWKS(),
		Issuer:   auth.DevIssuer,
		Audience: auth.DevAudience,
		Now:      func() time.Time { return time.Now().Add(time.Duration(e.skew.Load())) },
	})
	if err != nil {
		t.Fatal(err)
	}
	e.srv, err = grpcserver.New(grpcserver.Config{
		Logger:     slog.New(slog.NewJSONHandler(e.logs, nil)),
		Verifier:   verifier,
		Policy:     testPolicy,
		Registerer: e.reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	summaryv1.RegisterSummaryServiceServer(e.srv.GRPC, summaryServer{})
	consultationv1.RegisterConsultationServiceServer(e.srv.GRPC, consultationServer{})
	e.srv.GRPC.RegisterService(&echoDesc, struct{}{})

	lis := bufconn.Listen(1 << 20)
	served := make(chan error, 1)
	go func() { served <- e.srv.GRPC.Serve(lis) }()
	e.conn, err = grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.srv.Stop(ctx)
		// ErrServerStopped: the test stopped the server before the
		// goroutine above got to Serve, which is how Serve reports that.
		if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("Serve: %v", err)
		}
	})
	e.summary = summaryv1.NewSummaryServiceClient(e.conn)
	e.consult = consultationv1.NewConsultationServiceClient(e.conn)
	return e
}

func (e *env) token(t *testing.T, p auth.Principal) string {
	t.Helper()
	tok, err := e.key.Mint(p, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func withToken(tok string) context.Context {
	ctx := context.Background()
	if tok == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

func wantCode(t *testing.T, err error, code codes.Code, msgPart string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != code {
		t.Fatalf("code = %s (%q), want %s", st.Code(), st.Message(), code)
	}
	if !strings.Contains(st.Message(), msgPart) {
		t.Fatalf("message %q does not contain %q", st.Message(), msgPart)
	}
}

var (
	secretariat = auth.Principal{Subject: "sec-1", Role: auth.RoleSecretariat}
	colead      = auth.Principal{Subject: "co-1", Role: auth.RoleColead, Country: "CL"}
	stakeholder = auth.Principal{Subject: "st-1", Role: auth.RoleStakeholder}
)

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	e.srv.MarkServing()
	req := &summaryv1.GetSummaryRequest{ConsultationId: okID}

	for _, p := range []auth.Principal{secretariat, colead} {
		resp, err := e.summary.GetSummary(withToken(e.token(t, p)), req)
		if err != nil {
			t.Fatalf("%s: %v", p.Role, err)
		}
		if got := resp.GetSummary().GetByStakeholderType()[callerKey(p)]; got != 1 {
			t.Fatalf("handler did not see the caller %+v: %v", p, resp.GetSummary().GetByStakeholderType())
		}
	}

	other, err := auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "other.pem"))
	if err != nil {
		t.Fatal(err)
	}
	forged, err := other.Mint(secretariat, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	valid := e.token(t, secretariat)

	tests := []struct {
		name  string
		ctx   context.Context
		code  codes.Code
		msg   string
		skewd time.Duration
	}{
		{"no token", withToken(""), codes.Unauthenticated, "authorization: a bearer token is required to call GetSummary", 0},
		{"wrong role", withToken(e.token(t, stakeholder)), codes.PermissionDenied, "role stakeholder may not call GetSummary", 0},
		{"expired", withToken(valid), codes.Unauthenticated, "authorization: token expired", 2 * time.Hour},
		{"forged", withToken(forged), codes.Unauthenticated, "authorization: unknown key id", 0},
		{"garbage", withToken("abc.def.ghi"), codes.Unauthenticated, "authorization: malformed token", 0},
		{"not bearer", metadata.AppendToOutgoingContext(context.Background(), "authorization", "Basic dXNlcjpwYXNz"), codes.Unauthenticated, `expected "Bearer <token>"`, 0},
		{"two tokens", metadata.AppendToOutgoingContext(withToken(valid), "authorization", "Bearer "+valid), codes.Unauthenticated, "more than one", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.skew.Store(int64(tt.skewd))
			defer e.skew.Store(0)
			_, err := e.summary.GetSummary(tt.ctx, req)
			wantCode(t, err, tt.code, tt.msg)
		})
	}
}

func TestMethodNotInPolicyIsDenied(t *testing.T) {
	e := newEnv(t)
	for _, tok := range []string{"", e.token(t, secretariat)} {
		_, err := e.consult.GetDialogue(withToken(tok), &consultationv1.GetDialogueRequest{Id: okID})
		wantCode(t, err, codes.PermissionDenied, "GetDialogue is not open to any role")
	}
	// Listed methods pass authorization and reach the handler.
	_, err := e.consult.CreateDialogue(withToken(e.token(t, colead)), validDialogue())
	wantCode(t, err, codes.Unimplemented, "")
	_, err = e.consult.CreateDialogue(withToken(e.token(t, stakeholder)), validDialogue())
	wantCode(t, err, codes.PermissionDenied, "role stakeholder may not call CreateDialogue")
}

func validDialogue() *consultationv1.CreateDialogueRequest {
	return &consultationv1.CreateDialogueRequest{
		ThematicArea: "data_governance",
		Title:        "Data governance dialogue",
		StartsAt:     timestamppb.Now(),
	}
}

func TestValidation(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, secretariat)

	_, err := e.summary.GetSummary(withToken(tok), &summaryv1.GetSummaryRequest{ConsultationId: "not-a-uuid"})
	wantCode(t, err, codes.InvalidArgument, "invalid GetSummaryRequest: consultation_id: ")
	fv := grpcserver.FieldViolations(err)
	if len(fv) != 1 || fv[0].Field != "consultation_id" || fv[0].Description == "" {
		t.Fatalf("field violations = %+v", fv)
	}

	// Every violation is named, with its path.
	bad := &consultationv1.CreateDialogueRequest{ThematicArea: "AI!", VenueCountry: "br"}
	_, err = e.consult.CreateDialogue(withToken(tok), bad)
	wantCode(t, err, codes.InvalidArgument, "invalid CreateDialogueRequest: ")
	msg := status.Convert(err).Message()
	var fields []string
	for _, v := range grpcserver.FieldViolations(err) {
		fields = append(fields, v.Field)
		if !strings.Contains(msg, v.Field+": "+v.Description) {
			t.Errorf("message %q does not name %s", msg, v)
		}
	}
	for _, want := range []string{"thematic_area", "title", "venue_country", "starts_at"} {
		if !slices.Contains(fields, want) {
			t.Errorf("violations %v do not include %s", fields, want)
		}
	}

	// Authorization comes first: a public caller learns nothing about the
	// request's shape.
	_, err = e.summary.GetSummary(withToken(""), &summaryv1.GetSummaryRequest{ConsultationId: "not-a-uuid"})
	wantCode(t, err, codes.Unauthenticated, "")

	// Handlers report their own checks in the same shape.
	_, err = e.summary.GetSummary(withToken(tok), &summaryv1.GetSummaryRequest{ConsultationId: semanticID})
	wantCode(t, err, codes.InvalidArgument, "invalid request: consultation_id: no consultation with this id is open")
	if fv := grpcserver.FieldViolations(err); len(fv) != 1 || fv[0].Field != "consultation_id" {
		t.Fatalf("field violations = %+v", fv)
	}
}

func TestPanicBecomesInternalAndServerKeepsServing(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, secretariat)
	_, err := e.summary.GetSummary(withToken(tok), &summaryv1.GetSummaryRequest{ConsultationId: panicID})
	wantCode(t, err, codes.Internal, "internal error")
	if strings.Contains(status.Convert(err).Message(), "boom") {
		t.Fatal("the panic value reached the caller")
	}
	if _, err := e.summary.GetSummary(withToken(tok), &summaryv1.GetSummaryRequest{ConsultationId: okID}); err != nil {
		t.Fatalf("call after a panic: %v", err)
	}
	panics := e.logs.lines(t, "grpc call panicked")
	if len(panics) != 1 {
		t.Fatalf("%d panic log lines, want 1", len(panics))
	}
	p := panics[0]
	if p["method"] != summaryv1.SummaryService_GetSummary_FullMethodName || p["panic"] != "boom" ||
		!strings.Contains(p["stack"].(string), "summaryServer.GetSummary") {
		t.Fatalf("panic log line = %v", p)
	}

	// The same for streams.
	s := e.echoStream(t, withToken(e.token(t, stakeholder)))
	if err := s.SendMsg(&summaryv1.GetSummaryRequest{ConsultationId: panicID}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.RecvMsg(new(summaryv1.GetSummaryResponse)), codes.Internal, "internal error")
}

// Postgres or Redis out of reach is Unavailable with a retry hint, not
// Internal: the client may retry with its idempotency key.
func TestUnreachableDependencyIsUnavailable(t *testing.T) {
	e := newEnv(t)
	for name, id := range map[string]string{"postgres": pgDownID, "redis": redisDownID} {
		_, err := e.summary.GetSummary(withToken(e.token(t, secretariat)), &summaryv1.GetSummaryRequest{ConsultationId: id})
		st := status.Convert(err)
		if st.Code() != codes.Unavailable {
			t.Errorf("%s down: %v, want Unavailable", name, err)
			continue
		}
		var retry *errdetails.RetryInfo
		for _, d := range st.Details() {
			if r, ok := d.(*errdetails.RetryInfo); ok {
				retry = r
			}
		}
		if retry == nil || retry.GetRetryDelay().AsDuration() != grpcserver.RetryAfter {
			t.Errorf("%s down: details %v, want a RetryInfo of %s", name, st.Details(), grpcserver.RetryAfter)
		}
		if strings.Contains(st.Message(), "127.0.0.1") {
			t.Errorf("%s down: the address reached the caller: %s", name, st.Message())
		}
	}
}

func TestPlainErrorsDoNotLeak(t *testing.T) {
	e := newEnv(t)
	_, err := e.summary.GetSummary(withToken(e.token(t, secretariat)), &summaryv1.GetSummaryRequest{ConsultationId: plainErrID})
	wantCode(t, err, codes.Internal, "internal error")
	if strings.Contains(status.Convert(err).Message(), "password") {
		t.Fatalf("handler error text reached the caller: %v", err)
	}
	var logged int
	for _, l := range e.logs.lines(t, "grpc call") {
		if s, _ := l["error"].(string); strings.Contains(s, "password authentication failed") {
			logged++
			if l["code"] != "Internal" || l["level"] != "ERROR" {
				t.Errorf("log line = %v", l)
			}
		}
	}
	if logged != 1 {
		t.Fatalf("the handler error was logged %d times, want once", logged)
	}
}

func TestHealthAndReflectionNeedNoToken(t *testing.T) {
	e := newEnv(t)
	health := healthpb.NewHealthClient(e.conn)
	resp, err := health.Check(withToken(""), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("before MarkServing: %s, want NOT_SERVING", resp.GetStatus())
	}
	e.srv.MarkServing()
	// Even a bad token does not get in the way of a probe.
	for _, ctx := range []context.Context{withToken(""), withToken("garbage")} {
		for _, svc := range []string{"", "consulta.summary.v1.SummaryService"} {
			resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Fatalf("health of %q = %s, want SERVING", svc, resp.GetStatus())
			}
		}
	}

	refl, err := reflectionpb.NewServerReflectionClient(e.conn).ServerReflectionInfo(withToken(""))
	if err != nil {
		t.Fatal(err)
	}
	if err := refl.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatal(err)
	}
	lr, err := refl.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range lr.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !slices.Contains(names, "consulta.summary.v1.SummaryService") {
		t.Fatalf("reflection lists %v", names)
	}
	refl.CloseSend()
}

func (e *env) echoStream(t *testing.T, ctx context.Context) grpc.ClientStream {
	t.Helper()
	s, err := e.conn.NewStream(ctx, &echoDesc.Streams[0], echoMethod)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStreams(t *testing.T) {
	e := newEnv(t)

	s := e.echoStream(t, withToken(e.token(t, stakeholder)))
	for range 3 {
		if err := s.SendMsg(&summaryv1.GetSummaryRequest{ConsultationId: okID}); err != nil {
			t.Fatal(err)
		}
		resp := new(summaryv1.GetSummaryResponse)
		if err := s.RecvMsg(resp); err != nil {
			t.Fatal(err)
		}
		if resp.GetSummary().GetByStakeholderType()[callerKey(stakeholder)] != 1 {
			t.Fatalf("stream handler saw %v", resp.GetSummary().GetByStakeholderType())
		}
	}
	// A bad message mid-stream ends it with InvalidArgument.
	if err := s.SendMsg(&summaryv1.GetSummaryRequest{ConsultationId: "nope"}); err != nil {
		t.Fatal(err)
	}
	err := s.RecvMsg(new(summaryv1.GetSummaryResponse))
	wantCode(t, err, codes.InvalidArgument, "consultation_id")

	s = e.echoStream(t, withToken(""))
	wantCode(t, s.RecvMsg(new(summaryv1.GetSummaryResponse)), codes.Unauthenticated, "bearer token is required to call Echo")
	s = e.echoStream(t, withToken(e.token(t, secretariat)))
	wantCode(t, s.RecvMsg(new(summaryv1.GetSummaryResponse)), codes.PermissionDenied, "role secretariat may not call Echo")
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	e.srv.MarkServing()
	tok := e.token(t, secretariat)
	before := handled(t, e.reg, "GetSummary", "OK")
	if before != 0 {
		t.Fatalf("counter starts at %v", before)
	}
	for range 3 {
		if _, err := e.summary.GetSummary(withToken(tok), &summaryv1.GetSummaryRequest{ConsultationId: okID}); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = e.summary.GetSummary(withToken(""), &summaryv1.GetSummaryRequest{ConsultationId: okID})
	if got := handled(t, e.reg, "GetSummary", "OK"); got != 3 {
		t.Fatalf("grpc_server_handled_total{OK} = %v, want 3", got)
	}
	if got := handled(t, e.reg, "GetSummary", "Unauthenticated"); got != 1 {
		t.Fatalf("grpc_server_handled_total{Unauthenticated} = %v, want 1", got)
	}
	if got := histogramCount(t, e.reg, "GetSummary"); got != 4 {
		t.Fatalf("grpc_server_handling_seconds count = %v, want 4", got)
	}
}

func handled(t *testing.T, reg *prometheus.Registry, method, code string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "grpc_server_handled_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["grpc_method"] == method && labels["grpc_code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func histogramCount(t *testing.T, reg *prometheus.Registry, method string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "grpc_server_handling_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "grpc_method" && l.GetValue() == method {
					return m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return 0
}

func TestOneLogLinePerCall(t *testing.T) {
	e := newEnv(t)
	_, _ = e.summary.GetSummary(withToken(e.token(t, colead)), &summaryv1.GetSummaryRequest{ConsultationId: okID})
	_, _ = e.summary.GetSummary(withToken(e.token(t, stakeholder)), &summaryv1.GetSummaryRequest{ConsultationId: okID})
	_, _ = e.summary.GetSummary(withToken("garbage"), &summaryv1.GetSummaryRequest{ConsultationId: okID})

	lines := e.logs.lines(t, "grpc call")
	if len(lines) != 3 {
		t.Fatalf("%d log lines for 3 calls: %v", len(lines), lines)
	}
	want := []struct{ code, role, level string }{
		{"OK", "colead", "INFO"},
		{"PermissionDenied", "stakeholder", "INFO"},
		{"Unauthenticated", "", "INFO"},
	}
	for i, w := range want {
		l := lines[i]
		role, _ := l["role"].(string)
		if l["method"] != summaryv1.SummaryService_GetSummary_FullMethodName || l["code"] != w.code || role != w.role || l["level"] != w.level {
			t.Errorf("line %d = %v, want code %s role %q", i, l, w.code, w.role)
		}
		if _, ok := l["duration"]; !ok {
			t.Errorf("line %d has no duration", i)
		}
		if _, hasErr := l["error"]; hasErr != (w.code != "OK") {
			t.Errorf("line %d: error attribute presence wrong: %v", i, l)
		}
	}
}

func TestNewNeedsVerifier(t *testing.T) {
	if _, err := grpcserver.New(grpcserver.Config{}); err == nil {
		t.Fatal("New without a Verifier succeeded")
	}
}

func TestNewFailsOnDuplicateRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	v := fakeVerifier{}
	if _, err := grpcserver.New(grpcserver.Config{Verifier: v, Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := grpcserver.New(grpcserver.Config{Verifier: v, Registerer: reg}); err == nil {
		t.Fatal("registering the metrics twice succeeded")
	}
}

type fakeVerifier struct{}

func (fakeVerifier) Verify(context.Context, string) (auth.Principal, error) {
	return auth.Principal{}, errors.New("identity provider unreachable")
}

func TestVerifierOutageIsUnavailable(t *testing.T) {
	logs := &syncBuffer{}
	srv, err := grpcserver.New(grpcserver.Config{
		Logger:   slog.New(slog.NewJSONHandler(logs, nil)),
		Verifier: fakeVerifier{},
		Policy:   testPolicy,
	})
	if err != nil {
		t.Fatal(err)
	}
	summaryv1.RegisterSummaryServiceServer(srv.GRPC, summaryServer{})
	lis := bufconn.Listen(1 << 20)
	go srv.GRPC.Serve(lis)
	defer srv.GRPC.Stop()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = summaryv1.NewSummaryServiceClient(conn).GetSummary(withToken("x.y.z"), &summaryv1.GetSummaryRequest{ConsultationId: okID})
	wantCode(t, err, codes.Unavailable, "cannot verify the token")
	if strings.Contains(status.Convert(err).Message(), "unreachable") {
		t.Fatal("verifier error text reached the caller")
	}
	lines := logs.lines(t, "grpc call")
	if len(lines) != 1 || !strings.Contains(lines[0]["error"].(string), "identity provider unreachable") {
		t.Fatalf("log lines = %v", lines)
	}
}

func TestInvalidArgumentShape(t *testing.T) {
	err := grpcserver.InvalidArgument(
		grpcserver.FieldViolation{Field: "questions[2].text", Description: "must not be empty"},
		grpcserver.FieldViolation{Description: "closes_at must be after opens_at"},
	)
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("code = %s", st.Code())
	}
	if want := "invalid request: questions[2].text: must not be empty; closes_at must be after opens_at"; st.Message() != want {
		t.Fatalf("message = %q, want %q", st.Message(), want)
	}
	fv := grpcserver.FieldViolations(err)
	if len(fv) != 2 || fv[0].Field != "questions[2].text" || fv[1].Description != "closes_at must be after opens_at" {
		t.Fatalf("violations = %+v", fv)
	}
	if grpcserver.FieldViolations(errors.New("plain")) != nil {
		t.Fatal("violations from a plain error")
	}
	if got := status.Convert(grpcserver.InvalidRequest("X")).Message(); got != "invalid X" {
		t.Fatalf("message = %q", got)
	}
}

func TestStop(t *testing.T) {
	e := newEnv(t)
	e.srv.MarkServing()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	e.srv.Stop(ctx)
	resp, err := healthpb.NewHealthClient(e.conn).Check(withToken(""), &healthpb.HealthCheckRequest{})
	if err == nil {
		t.Fatalf("server answered after Stop: %v", resp)
	}
}
