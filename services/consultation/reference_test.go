package consultation

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/consulta-platform/consulta/pkg/auth"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	"github.com/consulta-platform/consulta/pkg/grpcserver"
	"github.com/consulta-platform/consulta/pkg/testenv"
)

func TestReferencePolicy(t *testing.T) {
	policy := ReferencePolicy()
	writes := []string{"UpdateCountry", "CreateThematicArea", "UpdateThematicArea", "SetThematicAreaCoLeads",
		"CreateStakeholderType", "UpdateStakeholderType"}
	methods := consultationv1.ReferenceService_ServiceDesc.Methods
	if len(policy) != len(methods) {
		t.Errorf("policy lists %d methods, the service has %d", len(policy), len(methods))
	}
	for _, m := range methods {
		full := "/" + consultationv1.ReferenceService_ServiceDesc.ServiceName + "/" + m.MethodName
		if !policy.Lists(full) {
			t.Errorf("%s is not in the policy", full)
			continue
		}
		write := slices.Contains(writes, m.MethodName)
		for _, r := range []auth.Role{auth.RoleSecretariat, auth.RoleColead, auth.RoleStakeholder, auth.RolePublic} {
			want := !write || r == auth.RoleSecretariat
			if got := policy.Allows(full, r); got != want {
				t.Errorf("%s allowed to %s = %v, want %v", m.MethodName, r, got, want)
			}
		}
	}
}

// referenceEnv serves ReferenceService through the real interceptor chain
// (tokens, policy, protovalidate, error translation) and the REST gateway.
type referenceEnv struct {
	key    *auth.DevKey
	client consultationv1.ReferenceServiceClient
	http   *httptest.Server
}

func newReferenceEnv(t *testing.T) *referenceEnv {
	t.Helper()
	key, err := auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "dev.pem"))
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(t.Context(), auth.VerifierConfig{JWKS: key.JWKS(), Issuer: auth.DevIssuer, Audience: auth.DevAudience})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := grpcserver.New(grpcserver.Config{
		Logger:   slog.New(slog.DiscardHandler),
		Verifier: verifier,
		Policy:   ReferencePolicy(),
	})
	if err != nil {
		t.Fatal(err)
	}
	NewReference(Deps{Pool: testenv.Pool(t), Logger: slog.New(slog.DiscardHandler)}).Register(srv.GRPC)
	srv.MarkServing()
	lis := bufconn.Listen(1 << 20)
	served := make(chan error, 1)
	go func() { served <- srv.GRPC.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		t.Fatal(err)
	}
	mux := runtime.NewServeMux()
	if err := RegisterReferenceGateway(t.Context(), mux, conn); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		hs.Close()
		conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Stop(ctx)
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &referenceEnv{key: key, client: consultationv1.NewReferenceServiceClient(conn), http: hs}
}

func (e *referenceEnv) token(t *testing.T, role auth.Role) string {
	t.Helper()
	p := auth.Principal{Subject: "u-" + string(role), Role: role}
	if role == auth.RoleColead {
		p.Country = "ES"
	}
	tok, err := e.key.Mint(p, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (e *referenceEnv) as(t *testing.T, role auth.Role) context.Context {
	if role == auth.RolePublic {
		return t.Context()
	}
	return metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+e.token(t, role))
}

// wantStatus checks err's code and that its message and field violations
// name field.
func wantStatus(t *testing.T, err error, code codes.Code, field string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != code {
		t.Fatalf("code = %s (%s), want %s", st.Code(), st.Message(), code)
	}
	if field == "" {
		return
	}
	if !strings.Contains(st.Message(), field+":") {
		t.Errorf("message %q does not name %s", st.Message(), field)
	}
	if code == codes.InvalidArgument {
		fvs := grpcserver.FieldViolations(err)
		if !slices.ContainsFunc(fvs, func(v grpcserver.FieldViolation) bool { return v.Field == field }) {
			t.Errorf("field violations %v do not name %s", fvs, field)
		}
	}
}

func TestReferenceServiceOverGRPC(t *testing.T) {
	e := newReferenceEnv(t)
	c := e.client

	countries, err := c.ListCountries(e.as(t, auth.RolePublic), &consultationv1.ListCountriesRequest{Region: consultationv1.Region_REGION_EU})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(countries.GetCountries()); n != 27 {
		t.Errorf("public caller sees %d EU countries, want 27", n)
	}

	req := &consultationv1.SetThematicAreaCoLeadsRequest{ThematicArea: "cybersecurity", Countries: []string{"BR", "ES"}}
	for _, role := range []auth.Role{auth.RolePublic, auth.RoleStakeholder, auth.RoleColead} {
		_, err := c.SetThematicAreaCoLeads(e.as(t, role), req)
		want := codes.PermissionDenied
		if role == auth.RolePublic {
			want = codes.Unauthenticated
		}
		wantStatus(t, err, want, "")
	}

	sec := e.as(t, auth.RoleSecretariat)
	bad := []struct {
		name      string
		countries []string
		code      codes.Code
		field     string
	}{
		{"no LAC country", []string{"ES", "FR"}, codes.InvalidArgument, "countries"},
		{"no EU country", []string{"BR"}, codes.InvalidArgument, "countries"},
		{"unknown country", []string{"BR", "XX"}, codes.InvalidArgument, "countries[1]"},
		{"not a code", []string{"BR", "es"}, codes.InvalidArgument, "countries[1]"},
		{"twice", []string{"BR", "ES", "BR"}, codes.InvalidArgument, "countries"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.SetThematicAreaCoLeads(sec, &consultationv1.SetThematicAreaCoLeadsRequest{ThematicArea: "cybersecurity", Countries: tc.countries})
			wantStatus(t, err, tc.code, tc.field)
		})
	}
	_, err = c.SetThematicAreaCoLeads(sec, &consultationv1.SetThematicAreaCoLeadsRequest{ThematicArea: "space", Countries: []string{"BR", "ES"}})
	wantStatus(t, err, codes.NotFound, "thematic_area")

	resp, err := c.SetThematicAreaCoLeads(sec, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetThematicArea(); !slices.Equal(got.GetColeadCountries(), []string{"BR", "ES"}) || got.GetVersion() != 2 {
		t.Errorf("after setting co-leads: %v", got)
	}
	_, err = c.SetThematicAreaCoLeads(sec, &consultationv1.SetThematicAreaCoLeadsRequest{ThematicArea: "cybersecurity", Countries: []string{"AR", "PT"}, Version: 1})
	wantStatus(t, err, codes.Aborted, "version")

	areas, err := c.ListThematicAreas(e.as(t, auth.RoleStakeholder), &consultationv1.ListThematicAreasRequest{})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(areas.GetThematicAreas(), func(a *consultationv1.ThematicArea) bool { return a.GetId() == "cybersecurity" })
	if i < 0 || !slices.Equal(areas.GetThematicAreas()[i].GetColeadCountries(), []string{"BR", "ES"}) {
		t.Errorf("listed thematic areas: %v", areas.GetThematicAreas())
	}

	_, err = c.UpdateCountry(sec, &consultationv1.UpdateCountryRequest{Code: "BR", Names: &consultationv1.ReferenceNames{En: "Brazil", Es: "", Pt: "Brasil", Fr: "Brésil"}})
	wantStatus(t, err, codes.InvalidArgument, "names.es")
	other := consultationv1.Region_REGION_OTHER
	_, err = c.UpdateCountry(sec, &consultationv1.UpdateCountryRequest{Code: "BR", Region: &other})
	wantStatus(t, err, codes.FailedPrecondition, "region")
	_, err = c.CreateStakeholderType(sec, &consultationv1.CreateStakeholderTypeRequest{Id: "academia",
		Names: &consultationv1.ReferenceNames{En: "Academia", Es: "Academia", Pt: "Academia", Fr: "Académie"}})
	wantStatus(t, err, codes.AlreadyExists, "id")
}

func TestReferenceServiceOverHTTP(t *testing.T) {
	e := newReferenceEnv(t)
	do := func(method, path, body string, role auth.Role) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, e.http.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if role != auth.RolePublic {
			req.Header.Set("Authorization", "Bearer "+e.token(t, role))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]any{}
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
		}
		return resp.StatusCode, out
	}

	for _, path := range []string{"/v1/reference/countries?region=REGION_LAC", "/v1/thematic-areas", "/v1/stakeholder-types"} {
		if code, body := do(http.MethodGet, path, "", auth.RolePublic); code != http.StatusOK || len(body) != 1 {
			t.Errorf("GET %s: %d %v", path, code, body)
		}
	}
	code, body := do(http.MethodGet, "/v1/reference/countries?region=REGION_LAC", "", auth.RolePublic)
	if n := len(body["countries"].([]any)); code != http.StatusOK || n != 33 {
		t.Errorf("LAC countries: %d, %d of them", code, n)
	}

	setCoLeads := `{"countries": ["MX", "DE"]}`
	if code, body := do(http.MethodPost, "/v1/thematic-areas/ai_hpc:setCoLeads", setCoLeads, auth.RoleStakeholder); code != http.StatusForbidden {
		t.Errorf("stakeholder sets co-leads: %d %v", code, body)
	}
	if code, body := do(http.MethodPost, "/v1/thematic-areas/ai_hpc:setCoLeads", `{"countries": ["MX"]}`, auth.RoleSecretariat); code != http.StatusBadRequest ||
		!strings.Contains(body["message"].(string), "countries:") {
		t.Errorf("one LAC co-lead: %d %v", code, body)
	}
	code, body = do(http.MethodPost, "/v1/thematic-areas/ai_hpc:setCoLeads", setCoLeads, auth.RoleSecretariat)
	if area, _ := body["thematicArea"].(map[string]any); code != http.StatusOK || area["version"] != "2" {
		t.Errorf("set co-leads: %d %v", code, body)
	}

	code, body = do(http.MethodPatch, "/v1/reference/countries/DE", `{"allianceMember": false, "version": "1"}`, auth.RoleSecretariat)
	if country, _ := body["country"].(map[string]any); code != http.StatusOK || country["version"] != "2" || country["region"] != "REGION_EU" {
		t.Errorf("update country: %d %v", code, body)
	}
	names := `{"en": "Open data", "es": "Datos abiertos", "pt": "Dados abertos", "fr": "Données ouvertes"}`
	if code, body := do(http.MethodPost, "/v1/thematic-areas", `{"id": "open_data", "names": `+names+`}`, auth.RoleSecretariat); code != http.StatusOK {
		t.Errorf("create thematic area: %d %v", code, body)
	}
	if code, body := do(http.MethodPatch, "/v1/thematic-areas/open_data", `{"names": `+names+`, "version": "7"}`, auth.RoleSecretariat); code != http.StatusConflict {
		t.Errorf("stale rename of a thematic area: %d %v", code, body)
	}
	if code, body := do(http.MethodPost, "/v1/stakeholder-types", `{"id": "media", "names": `+names+`}`, auth.RoleSecretariat); code != http.StatusOK {
		t.Errorf("create stakeholder type: %d %v", code, body)
	}
	if code, body := do(http.MethodPatch, "/v1/stakeholder-types/media", `{"names": `+names+`, "version": "1"}`, auth.RoleSecretariat); code != http.StatusOK {
		t.Errorf("rename stakeholder type: %d %v", code, body)
	}
}
