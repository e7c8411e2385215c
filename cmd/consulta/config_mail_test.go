package main

import (
	"strings"
	"testing"
)

// The SMTP settings are read; a bad SMTP URL is refused at start naming the
// variable, without quoting the password it holds.
func TestMailSettingsFromEnvironment(t *testing.T) {
	env := map[string]string{"CONSULTA_SMTP_URL": "smtps://u:pw@mail.example.org", "CONSULTA_MAIL_FROM": "Consulta <noreply@example.org>"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, _, err := platformConfigFromEnv(lookup)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Mail.SMTPURL != env["CONSULTA_SMTP_URL"] || cfg.Mail.From != env["CONSULTA_MAIL_FROM"] {
		t.Errorf("mail config = %+v", cfg.Mail)
	}
	for _, bad := range []string{"smtp://u:hunter2@mail.example.org?starttls=sometimes", "imap://u:hunter2@mail.example.org"} {
		env = map[string]string{"CONSULTA_SMTP_URL": bad}
		_, _, err = platformConfigFromEnv(lookup)
		if err == nil || !strings.Contains(err.Error(), "CONSULTA_SMTP_URL") || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error %v, want one naming CONSULTA_SMTP_URL without the password", bad, err)
		}
	}
}
