package devmail

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"net/textproto"
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

// show serves one message as plain text, so the browser renders none of
// it: its headers as received, then each text part decoded (a
// quoted-printable link becomes one line to copy). ?raw=1 gives the file
// as received.
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
	if r.URL.Query().Get("raw") != "" {
		_, _ = w.Write(b)
		return
	}
	_, _ = w.Write(readable(b))
}

// readable is msg with its headers as they are and its body decoded: the
// text of every part, each under its content type. A message it cannot
// read comes back as it is.
func readable(msg []byte) []byte {
	head, _, ok := bytes.Cut(msg, []byte("\r\n\r\n"))
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if !ok || err != nil {
		return msg
	}
	var out bytes.Buffer
	out.Write(head)
	out.WriteString("\r\n")
	if err := writeBody(&out, textproto.MIMEHeader(m.Header), m.Body); err != nil {
		return msg
	}
	return out.Bytes()
}

// writeBody writes the decoded text of a body with header h, descending
// into multipart bodies.
func writeBody(out *bytes.Buffer, h textproto.MIMEHeader, body io.Reader) error {
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart() // undoes quoted-printable
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := writeBody(out, p.Header, p); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(out, "\r\n----- %s -----\r\n\r\n", mt)
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body) // skips line breaks
	case "quoted-printable":
		// multipart.Reader has decoded parts already and dropped this
		// header; a single-part message still needs it.
		body = quotedprintable.NewReader(body)
	}
	_, err = io.Copy(out, body)
	return err
}
