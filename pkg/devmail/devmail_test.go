package devmail_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/consulta-platform/consulta/pkg/devmail"
	"github.com/consulta-platform/consulta/pkg/mail"
)

func start(t *testing.T) *devmail.Catcher {
	t.Helper()
	c, err := devmail.Start(devmail.Options{Dir: filepath.Join(t.TempDir(), "mail"), SMTPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

func get(t *testing.T, url string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// TestCatcherKeepsAndListsMail: mail sent through the platform's SMTP
// client lands as .eml files; the page lists them newest first with
// subject, recipient and date, escaping what they hold; each is served as
// plain text; names that are not messages are not served.
func TestCatcherKeepsAndListsMail(t *testing.T) {
	c := start(t)
	s, err := mail.NewSMTP(mail.SMTPConfig{URL: c.SMTPURL(), From: "consulta@localhost"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	subjects := []string{"First <b>bold</b>", "Segunda: confirmación"}
	// Long enough for quoted-printable to break it, with "=" to encode.
	const link = "https://example.org/confirm?token=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.sig="
	for i, subj := range subjects {
		if err := s.Send(ctx, mail.Message{To: []string{"ana@example.org", "bo@example.org"}[i], Subject: subj,
			Text: "Follow\n\n" + link + subj[:5] + "\n", HTML: "<p>caught</p>"}); err != nil {
			t.Fatal(err)
		}
	}

	des, err := os.ReadDir(c.Dir())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	if len(names) != 2 || !strings.HasSuffix(names[0], ".eml") || !strings.HasSuffix(names[1], ".eml") {
		t.Fatalf("files %v, want two .eml", names)
	}
	first, err := os.ReadFile(filepath.Join(c.Dir(), names[0]))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Delivered-To: ana@example.org", "Subject: First <b>bold</b>", "Message-ID: <", "Date: "} {
		if !strings.Contains(string(first), want) {
			t.Errorf("%s lacks %q:\n%s", names[0], want, first)
		}
	}

	code, ctype, page := get(t, c.PageURL())
	if code != 200 || !strings.HasPrefix(ctype, "text/html") {
		t.Fatalf("page: %d %s", code, ctype)
	}
	if strings.Contains(page, "<b>bold</b>") || !strings.Contains(page, "First &lt;b&gt;bold&lt;/b&gt;") {
		t.Errorf("the subject is not escaped:\n%s", page)
	}
	second, firstAt := strings.Index(page, "Segunda: confirmación"), strings.Index(page, "First &lt;b&gt;")
	if second < 0 || firstAt < 0 || second > firstAt {
		t.Errorf("not newest first (decoded subjects at %d and %d):\n%s", second, firstAt, page)
	}
	if !strings.Contains(page, "bo@example.org") || !strings.Contains(page, `href="/messages/`+names[0]+`"`) {
		t.Errorf("page lacks the recipient or the link to %s:\n%s", names[0], page)
	}

	if strings.Contains(string(first), link) {
		t.Fatal("the link is not encoded in the file: the page's decoding goes untested")
	}
	code, ctype, text := get(t, strings.TrimSuffix(c.PageURL(), "/")+"/messages/"+names[0])
	if code != 200 || !strings.HasPrefix(ctype, "text/plain") || !strings.Contains(text, "Subject: First <b>bold</b>") ||
		!strings.Contains(text, "\n"+link+"First\r\n") || !strings.Contains(text, "----- text/html -----\r\n\r\n<p>caught</p>") {
		t.Errorf("message page: %d %s:\n%s", code, ctype, text)
	}
	code, _, raw := get(t, strings.TrimSuffix(c.PageURL(), "/")+"/messages/"+names[0]+"?raw=1")
	if code != 200 || raw != string(first) {
		t.Errorf("raw message: %d, same as the file: %v", code, raw == string(first))
	}
	for _, bad := range []string{"/messages/..%2Fsecret.eml", "/messages/" + strings.TrimSuffix(names[0], ".eml"), "/messages/.x.eml.tmp"} {
		if code, _, _ := get(t, strings.TrimSuffix(c.PageURL(), "/")+bad); code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", bad, code)
		}
	}
}

// TestCatcherListensOnLoopbackOnly: it refuses any other address.
func TestCatcherListensOnLoopbackOnly(t *testing.T) {
	for _, o := range []devmail.Options{
		{SMTPAddr: "0.0.0.0:0", HTTPAddr: "127.0.0.1:0"},
		{SMTPAddr: "127.0.0.1:0", HTTPAddr: ":0"},
	} {
		o.Dir = t.TempDir()
		if c, err := devmail.Start(o); err == nil {
			c.Close()
			t.Errorf("%+v: started, want a refusal", o)
		} else if !strings.Contains(err.Error(), "loopback") {
			t.Errorf("%+v: %v, want an error naming loopback", o, err)
		}
	}
}
