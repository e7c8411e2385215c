// Package doctypetest builds small, valid documents for tests of code that
// checks documents by their content (pkg/doctype and its users).
package doctypetest

import (
	"bytes"
	"fmt"
)

// PDF is a PDF 1.4 file holding objects (numbered from 1, the first being
// the catalog), with a binary comment line after the header, a
// cross-reference table that points at every object, a trailer and
// startxref: what a real writer such as LibreOffice produces, at its
// smallest.
func PDF(objects ...string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objects))
	for i, o := range objects {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objects)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objects)+1, xref)
	return b.Bytes()
}

// Stream is a stream object holding data.
func Stream(data []byte) string {
	return fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(data), data)
}

// TextPDF is a PDF with a catalog, an empty page tree, a stream holding
// text, and, when pad > 0, a stream of pad zero bytes that makes the file as
// large as a test needs.
func TextPDF(text string, pad int) []byte {
	objects := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [] /Count 0 >>",
		Stream([]byte(text)),
	}
	if pad > 0 {
		objects = append(objects, Stream(make([]byte, pad)))
	}
	return PDF(objects...)
}
