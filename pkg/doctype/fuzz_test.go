package doctype

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// FuzzSniff checks that Sniff never panics, that it never claims a type for
// content that does not start with that type's signature, and that on
// anything it refuses it returns an error wrapping ErrUnsupported (an
// in-memory reader never fails).
//
// Run it for a while with
//
//	go test -run '^$' -fuzz FuzzSniff -fuzztime 10s ./pkg/doctype/
func FuzzSniff(f *testing.F) {
	pdf := buildPDF(f)
	docx := buildDOCX(f)
	odt := buildODT(f)
	for _, seed := range [][]byte{
		nil,
		pdf,
		pdf[:len(pdf)/2],
		[]byte("%PDF-1.7\n%%EOF"),
		odt,
		odt[:len(odt)-10],
		docx,
		docx[:len(docx)/2],
		buildWord(f, ctDOCM),
		buildODF(f, "application/vnd.oasis.opendocument.spreadsheet"),
		buildXLSX(f),
		buildZIP(f, entry{name: "notes.txt", body: "hello", method: zip.Deflate}),
		buildZIP(f, entry{name: "[Content_Types].xml", body: contentTypesXML("/word/document.xml", ctDOCX), flags: 1}),
		pngHeader,
		[]byte("PK\x05\x06" + string(make([]byte, 18))),
		append([]byte("junk"), docx...),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := sniffBytes(data)
		if err != nil {
			if got != "" {
				t.Fatalf("Sniff returned %q with error %v", got, err)
			}
			if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error %v from an in-memory reader does not wrap ErrUnsupported", err)
			}
			return
		}
		var sig []byte
		switch got {
		case PDF:
			sig = sigPDF
		case ODT, DOCX:
			sig = sigZIP
		default:
			t.Fatalf("Sniff returned unknown type %q", got)
		}
		if !bytes.HasPrefix(data, sig) {
			t.Fatalf("Sniff said %s for content starting %q", got, fmt.Sprintf("%.8q", data))
		}
		if got.MediaType() == "" {
			t.Fatalf("type %q has no media type", got)
		}
	})
}
