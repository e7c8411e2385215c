package mail

import (
	"html"
	"net/url"
	"strings"
)

// HTMLFromText renders a plain-text body as HTML: paragraphs at blank
// lines, line breaks kept, and http(s) URLs that stand as words made into
// links. Everything else is escaped, so text from anywhere is safe here.
func HTMLFromText(text string) string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><body>\n")
	for _, para := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n") {
		para = strings.Trim(para, "\n")
		if para == "" {
			continue
		}
		b.WriteString("<p>")
		for i, line := range strings.Split(para, "\n") {
			if i > 0 {
				b.WriteString("<br>\n")
			}
			for j, word := range strings.Split(line, " ") {
				if j > 0 {
					b.WriteByte(' ')
				}
				writeWord(&b, word)
			}
		}
		b.WriteString("</p>\n")
	}
	b.WriteString("</body></html>\n")
	return b.String()
}

// writeWord writes word escaped, as a link when it is an http(s) URL.
func writeWord(b *strings.Builder, word string) {
	u, err := url.Parse(word)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		b.WriteString(html.EscapeString(word))
		return
	}
	w := html.EscapeString(word)
	b.WriteString(`<a href="` + w + `">` + w + `</a>`)
}
