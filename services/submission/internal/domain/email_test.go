package domain

import "testing"

// TestNormaliseEmail: every way of writing one mailbox has one normal form;
// different mailboxes keep different ones.
func TestNormaliseEmail(t *testing.T) {
	same := map[string][]string{
		"ana@example.org": {
			"ana@example.org", "Ana@Example.ORG", "  ana@example.org\t", "ana+news@example.org",
			"ANA+x+y@example.org", "ana@example.org.", "ana@example.org..", `"ana"@example.org`,
			`"Ana+tag"@Example.org.`, `"a\na"@example.org`, " Ana+x@Example.org. ", "\u00a0ana@example.org\u3000",
		},
		"ana.souza@example.org": {"Ana.Souza@example.org", "ana.souza+1@EXAMPLE.org"},
		"anasouza@gmail.com":    {"ana.souza@gmail.com", "A.na.Sou.za+x@GMail.com.", "anasouza@googlemail.com", `"ana.souza"@gmail.com`},
		"+ana@example.org":      {"+ana@example.org", "+Ana@example.org"},
		"ána@exämple.org":       {"ÁNA@EXÄMPLE.org"},
		`a"b@example.org`:       {`"a\"b"@example.org`},
	}
	for want, forms := range same {
		for _, f := range forms {
			if got := NormaliseEmail(f); got != want {
				t.Errorf("NormaliseEmail(%q) = %q, want %q", f, got, want)
			}
		}
	}
	// Dots count outside Gmail, and other changes are other mailboxes.
	distinct := []string{"ana@example.org", "a.na@example.org", "anna@example.org", "ana@example.com", "ana-news@example.org", "ana@sub.example.org"}
	seen := map[string]string{}
	for _, f := range distinct {
		n := NormaliseEmail(f)
		if other, ok := seen[n]; ok {
			t.Errorf("%q and %q have one normal form %q", f, other, n)
		}
		seen[n] = f
	}
}
