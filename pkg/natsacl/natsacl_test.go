package natsacl_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/consulta-platform/consulta/pkg/natsacl"
	"github.com/consulta-platform/consulta/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// deployVars are the passwords deploy/nats/nats.conf reads from the
// environment.
var deployVars = map[string]string{
	"CONSULTA_NATS_CONSULTATION_PASSWORD": "p-consultation",
	"CONSULTA_NATS_SUBMISSION_PASSWORD":   "p-submission",
	"CONSULTA_NATS_SUMMARY_PASSWORD":      "p-summary",
	"CONSULTA_NATS_WORKER_PASSWORD":       "p-worker",
}

// TestDeployConfigMatches parses deploy/nats/nats.conf as nats-server does
// and checks that it has one user per service, with that service's password
// variable and exactly the permissions this package gives it, and no user
// without permissions.
func TestDeployConfigMatches(t *testing.T) {
	t.Parallel()
	opts := testenv.ParseNATSConfig(t, "../../deploy/nats/nats.conf", deployVars)
	if !opts.JetStream {
		t.Error("JetStream is not enabled")
	}
	if len(opts.Nkeys) != 0 || opts.NoAuthUser != "" || opts.Username != "" {
		t.Errorf("other ways in: nkeys %d, no_auth_user %q, user %q", len(opts.Nkeys), opts.NoAuthUser, opts.Username)
	}
	seen := map[string]bool{}
	for _, u := range opts.Users {
		if !natsacl.Known(u.Username) {
			t.Errorf("user %q is not a service", u.Username)
			continue
		}
		seen[u.Username] = true
		if want := "p-" + u.Username; u.Password != want {
			t.Errorf("user %s: password %q, want the variable CONSULTA_NATS_%s_PASSWORD", u.Username, u.Password, u.Username)
		}
		if u.Account == nil || u.Account.Name != "CONSULTA" {
			t.Errorf("user %s: not in account CONSULTA", u.Username)
		}
		p := u.Permissions
		if p == nil || p.Publish == nil || p.Subscribe == nil {
			t.Errorf("user %s: no publish and subscribe permissions", u.Username)
			continue
		}
		want := natsacl.For(u.Username)
		if got := sorted(p.Publish.Allow); !slices.Equal(got, want.Publish) || len(p.Publish.Deny) != 0 {
			t.Errorf("user %s may publish %q (deny %q), want %q", u.Username, got, p.Publish.Deny, want.Publish)
		}
		if got := sorted(p.Subscribe.Allow); !slices.Equal(got, want.Subscribe) || len(p.Subscribe.Deny) != 0 {
			t.Errorf("user %s may subscribe to %q (deny %q), want %q", u.Username, got, p.Subscribe.Deny, want.Subscribe)
		}
	}
	for _, s := range natsacl.Services {
		if !seen[s] {
			t.Errorf("no user for service %s", s)
		}
	}
}

// TestOnlyTheConsultationServicePublishesConsultations checks the lists
// themselves: the subjects the submission service trusts are the
// consultation service's (and the worker's translation), and no service but
// the consultation service may change the stream.
func TestOnlyTheConsultationServicePublishesConsultations(t *testing.T) {
	t.Parallel()
	for _, s := range natsacl.Services {
		pub := natsacl.For(s).Publish
		consultations := slices.Contains(pub, "consulta.consultation.>")
		if consultations != (s == natsacl.Consultation) {
			t.Errorf("%s may publish consulta.consultation.>: %v", s, consultations)
		}
		stream := slices.Contains(pub, "$JS.API.STREAM.UPDATE.CONSULTA")
		if stream != (s == natsacl.Consultation) {
			t.Errorf("%s may update the stream: %v", s, stream)
		}
		for _, p := range pub {
			if p == ">" || p == "$JS.API.>" || p == "consulta.>" {
				t.Errorf("%s may publish %q", s, p)
			}
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestComposeGivesEachServiceItsUser: in deploy/compose.yaml every process
// that runs one service logs in to NATS as that service's user, with a
// password taken from the environment (never written in the file), and the
// NATS server gets the same variables.
func TestComposeGivesEachServiceItsUser(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../deploy/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for name, svc := range compose.Services {
		if len(svc.Command) != 2 || svc.Command[0] != "serve" {
			continue
		}
		service := strings.TrimPrefix(svc.Command[1], "--services=")
		if !natsacl.Known(service) {
			continue // the gateway does not use NATS
		}
		seen[service] = true
		variable := "CONSULTA_NATS_" + strings.ToUpper(service) + "_PASSWORD"
		if got := svc.Environment["CONSULTA_NATS_USER"]; got != service {
			t.Errorf("%s: CONSULTA_NATS_USER = %q, want %q", name, got, service)
		}
		if got := svc.Environment["CONSULTA_NATS_PASSWORD"]; !strings.HasPrefix(got, "${"+variable+":?") {
			t.Errorf("%s: CONSULTA_NATS_PASSWORD = %q, want ${%s:?...}", name, got, variable)
		}
		if got := compose.Services["nats"].Environment[variable]; !strings.HasPrefix(got, "${"+variable+":?") {
			t.Errorf("nats: %s = %q, want it from the environment", variable, got)
		}
	}
	for _, s := range natsacl.Services {
		if !seen[s] {
			t.Errorf("no process runs %s alone", s)
		}
	}
}
