package domain

import "strings"

// NormaliseEmail is the normal form of an email address: the one rate
// limits count, data-protection requests match and erasure records tag.
// Addresses that differ only in ways that reach the same mailbox have one
// normal form, so that none of them gives a writer a new budget or escapes
// an erasure:
//
//   - surrounding white space is trimmed;
//   - a quoted local part is unquoted ("ana"@example.org is ana@example.org,
//     backslash escapes resolved);
//   - letters are in lower case, in the local part too (RFC 5321 lets a
//     server tell case apart there; none of note does);
//   - a "+tag" is dropped from the local part (ana+news@ is ana@), as
//     nearly every provider delivers subaddresses to the main mailbox; a
//     local part that starts with "+" keeps it;
//   - trailing dots of the domain are dropped (example.org. is example.org);
//   - for Gmail only (gmail.com and googlemail.com, which Google documents
//     as one mailbox, ignoring dots in the local part), dots are dropped
//     from the local part and the domain is gmail.com. Other providers give
//     a.na@ and ana@ to different people, so dots stay there.
//
// Postgres has the same function (submission.normalise_email, migration
// 00012), for the indexes that find addresses; a test keeps both in step.
func NormaliseEmail(email string) string {
	a := strings.TrimSpace(email)
	at := strings.LastIndexByte(a, '@')
	if at < 0 {
		return strings.ToLower(a)
	}
	local, domain := a[:at], strings.ToLower(strings.TrimRight(a[at+1:], "."))
	if len(local) >= 2 && local[0] == '"' && local[len(local)-1] == '"' {
		local = unquote(local[1 : len(local)-1])
	}
	local = strings.ToLower(local)
	if i := strings.IndexByte(local, '+'); i > 0 {
		local = local[:i]
	}
	if domain == "gmail.com" || domain == "googlemail.com" {
		local, domain = strings.ReplaceAll(local, ".", ""), "gmail.com"
	}
	return local + "@" + domain
}

// unquote resolves the backslash escapes of a quoted string's content.
func unquote(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		if rs[i] == '\\' && i+1 < len(rs) {
			i++
		}
		b.WriteRune(rs[i])
	}
	return b.String()
}
