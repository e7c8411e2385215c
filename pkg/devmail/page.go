package devmail

import (
	"bytes"
	"html/template"
	"mime"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// entry is one message in the list.
type entry struct {
	Name, Subject, To, Date string
}

var (
	decoder  = new(mime.WordDecoder)
	listPage = template.Must(template.New("list").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>consulta dev: mail</title></head>
<body>
<h1>Mail caught by consulta dev</h1>
<p>{{len .Entries}} message(s), newest first, in {{.Dir}}</p>
<table>
<tr><th>Date</th><th>To</th><th>Subject</th></tr>
{{range .Entries}}<tr><td>{{.Date}}</td><td>{{.To}}</td><td><a href="/messages/{{.Name}}">{{.Subject}}</a></td></tr>
{{end}}</table>
</body></html>
`))
)

// Handler serves the list of messages at / and each message, as text, at
// /messages/{name}. html/template escapes what the messages hold.
func (c *Catcher) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", c.list)
	mux.HandleFunc("GET /messages/{name}", c.show)
	return mux
}

func (c *Catcher) list(w http.ResponseWriter, _ *http.Request) {
	des, err := os.ReadDir(c.dir)
	if err != nil {
		http.Error(w, "cannot read the mail directory", http.StatusInternalServerError)
		return
	}
	var entries []entry
	for _, de := range des {
		if de.IsDir() || !isMessageName(de.Name()) {
			continue
		}
		entries = append(entries, c.summary(de.Name()))
	}
	// Names begin with the time of arrival.
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(b.Name, a.Name) })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var b bytes.Buffer
	if err := listPage.Execute(&b, struct {
		Dir     string
		Entries []entry
	}{c.dir, entries}); err != nil {
		http.Error(w, "cannot render the list", http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(b.Bytes())
}

// summary reads the headers of one stored message.
func (c *Catcher) summary(name string) entry {
	e := entry{Name: name, Subject: "(unreadable)"}
	f, err := os.Open(filepath.Join(c.dir, name))
	if err != nil {
		return e
	}
	defer f.Close()
	m, err := mail.ReadMessage(f)
	if err != nil {
		return e
	}
	e.Subject, e.To, e.Date = decode(m.Header.Get("Subject")), decode(m.Header.Get("To")), m.Header.Get("Date")
	return e
}

// decode turns RFC 2047 encoded words into text, leaving anything else.
func decode(s string) string {
	if d, err := decoder.DecodeHeader(s); err == nil {
		return d
	}
	return s
}

// show serves one message as it was received, as plain text: the browser
// renders none of it.
func (c *Catcher) show(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !isMessageName(name) {
		http.NotFound(w, r)
		return
	}
	b, err := os.ReadFile(filepath.Join(c.dir, name))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(b)
}
