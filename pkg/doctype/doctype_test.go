package doctype

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/consulta-platform/consulta/pkg/doctype/doctypetest"
)

// buildPDF writes a small, valid one-page PDF 1.4 with a correct
// cross-reference table.
func buildPDF(t testing.TB) []byte {
	t.Helper()
	objects := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		"", // the content stream, below
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	stream := "BT /F1 12 Tf 72 770 Td (Position paper) Tj ET"
	objects[3] = doctypetest.Stream([]byte(stream))
	return doctypetest.PDF(objects...)
}

// entry is one file of a ZIP archive built by buildZIP.
type entry struct {
	name   string
	body   string
	method uint16 // zip.Store or zip.Deflate
	flags  uint16 // extra general purpose flags
}

func buildZIP(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		if e.flags != 0 {
			// CreateRaw keeps the flags as given: used for "encrypted"
			// entries, whose content does not matter here.
			w, err := zw.CreateRaw(&zip.FileHeader{
				Name: e.name, Method: zip.Store, Flags: e.flags,
				CRC32: crc32.ChecksumIEEE([]byte(e.body)), CompressedSize64: uint64(len(e.body)), UncompressedSize64: uint64(len(e.body)),
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(w, e.body); err != nil {
				t.Fatal(err)
			}
			continue
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: e.method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

const odfManifest = `<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
 <manifest:file-entry manifest:full-path="/" manifest:version="1.2" manifest:media-type="%s"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>`

const odfEncryptedManifest = `<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
 <manifest:file-entry manifest:full-path="/" manifest:version="1.2" manifest:media-type="application/vnd.oasis.opendocument.text"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml" manifest:size="1234">
  <manifest:encryption-data manifest:checksum-type="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0#sha256-1k" manifest:checksum="AAAA">
   <manifest:algorithm manifest:algorithm-name="http://www.w3.org/2001/04/xmlenc#aes256-cbc" manifest:initialisation-vector="AAAA"/>
   <manifest:key-derivation manifest:key-derivation-name="PBKDF2" manifest:key-size="32" manifest:iteration-count="100000" manifest:salt="AAAA"/>
  </manifest:encryption-data>
 </manifest:file-entry>
</manifest:manifest>`

const odtContent = `<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">
 <office:body><office:text><text:p>Position paper</text:p></office:text></office:body>
</office:document-content>`

// buildODF builds an OpenDocument package of the given media type, laid out
// as LibreOffice writes one: a stored mimetype entry first.
func buildODF(t testing.TB, mediaType string) []byte {
	return buildZIP(t,
		entry{name: "mimetype", body: mediaType, method: zip.Store},
		entry{name: "content.xml", body: odtContent, method: zip.Deflate},
		entry{name: "META-INF/manifest.xml", body: fmt.Sprintf(odfManifest, mediaType), method: zip.Deflate},
	)
}

const ooxmlRels = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
 <Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="%s"/>
</Relationships>`

const docxDocument = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">
 <w:body><w:p><w:r><w:t>Position paper</w:t></w:r></w:p></w:body>
</w:document>`

// contentTypesXML declares part with content type ct, as Word does.
func contentTypesXML(part, ct string) string {
	return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
 <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
 <Default Extension="xml" ContentType="application/xml"/>
 <Override PartName="` + part + `" ContentType="` + ct + `"/>
</Types>`
}

// buildWord builds a Word package whose main document has content type ct,
// with extra entries appended.
func buildWord(t testing.TB, ct string, extra ...entry) []byte {
	entries := []entry{
		{name: "[Content_Types].xml", body: contentTypesXML("/word/document.xml", ct), method: zip.Deflate},
		{name: "_rels/.rels", body: fmt.Sprintf(ooxmlRels, "word/document.xml"), method: zip.Deflate},
		{name: "word/document.xml", body: docxDocument, method: zip.Deflate},
	}
	return buildZIP(t, append(entries, extra...)...)
}

func buildDOCX(t testing.TB) []byte { return buildWord(t, ctDOCX) }

func buildODT(t testing.TB) []byte { return buildODF(t, MediaTypeODT) }

func buildXLSX(t testing.TB) []byte {
	return buildZIP(t,
		entry{name: "[Content_Types].xml", body: contentTypesXML("/xl/workbook.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"), method: zip.Deflate},
		entry{name: "_rels/.rels", body: fmt.Sprintf(ooxmlRels, "xl/workbook.xml"), method: zip.Deflate},
		entry{name: "xl/workbook.xml", body: `<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>`, method: zip.Deflate},
	)
}

var pngHeader = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")

func sniffBytes(b []byte) (Type, error) { return Sniff(bytes.NewReader(b), int64(len(b))) }

func TestSniffAccepts(t *testing.T) {
	docxDefaultXML := buildZIP(t,
		// No Override: the main document takes the Default for .xml.
		entry{name: "[Content_Types].xml", body: `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="XML" ContentType="` + ctDOCX + `"/></Types>`, method: zip.Deflate},
		entry{name: "word/document.xml", body: docxDocument, method: zip.Deflate},
	)
	pdfTrailingJunk := append(buildPDF(t), bytes.Repeat([]byte{0}, 500)...)
	for _, tc := range []struct {
		name string
		data []byte
		want Type
		mt   string
	}{
		{"pdf", buildPDF(t), PDF, "application/pdf"},
		{"pdf with a little data after %%EOF", pdfTrailingJunk, PDF, "application/pdf"},
		{"odt", buildODT(t), ODT, "application/vnd.oasis.opendocument.text"},
		{"docx", buildDOCX(t), DOCX, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
		{"docx with content types by default", docxDefaultXML, DOCX, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sniffBytes(tc.data)
			if err != nil {
				t.Fatalf("Sniff: %v", err)
			}
			if got != tc.want || got.MediaType() != tc.mt {
				t.Fatalf("Sniff = %q (%s), want %q (%s)", got, got.MediaType(), tc.want, tc.mt)
			}
			if got.Extension() != "."+string(tc.want) {
				t.Fatalf("Extension = %q", got.Extension())
			}
		})
	}
}

func TestSniffRefuses(t *testing.T) {
	pdf := buildPDF(t)
	docx := buildDOCX(t)
	odtCompressedMimetype := buildZIP(t,
		entry{name: "mimetype", body: MediaTypeODT, method: zip.Deflate},
		entry{name: "META-INF/manifest.xml", body: fmt.Sprintf(odfManifest, MediaTypeODT), method: zip.Deflate},
	)
	odtMimetypeNotFirst := buildZIP(t,
		entry{name: "content.xml", body: odtContent, method: zip.Deflate},
		entry{name: "mimetype", body: MediaTypeODT, method: zip.Store},
	)
	odtEncrypted := buildZIP(t,
		entry{name: "mimetype", body: MediaTypeODT, method: zip.Store},
		entry{name: "content.xml", body: "\x8a\x01binary", method: zip.Store},
		entry{name: "META-INF/manifest.xml", body: odfEncryptedManifest, method: zip.Deflate},
	)
	odtNoManifest := buildZIP(t,
		entry{name: "mimetype", body: MediaTypeODT, method: zip.Store},
		entry{name: "content.xml", body: odtContent, method: zip.Deflate},
	)
	odtMimetypeNewline := buildODF(t, MediaTypeODT+"\n")
	zipCryptoDOCX := buildZIP(t,
		entry{name: "[Content_Types].xml", body: contentTypesXML("/word/document.xml", ctDOCX), flags: 1},
		entry{name: "word/document.xml", body: docxDocument, flags: 1},
	)
	docxNoDocument := buildZIP(t,
		entry{name: "[Content_Types].xml", body: contentTypesXML("/word/document.xml", ctDOCX), method: zip.Deflate},
	)
	docxWrongType := buildWord(t, "application/xml")
	docxBadXML := buildZIP(t,
		entry{name: "[Content_Types].xml", body: "<Types><Override PartName=", method: zip.Deflate},
		entry{name: "word/document.xml", body: docxDocument, method: zip.Deflate},
	)
	docxHugeTypes := buildZIP(t,
		entry{name: "[Content_Types].xml", body: contentTypesXML("/word/document.xml", ctDOCX) + "<!--" + strings.Repeat(" ", 2<<20) + "-->", method: zip.Deflate},
		entry{name: "word/document.xml", body: docxDocument, method: zip.Deflate},
	)
	docxWithVBA := buildWord(t, ctDOCX, entry{name: "word/vbaProject.bin", body: "\xd0\xcf\x11\xe0", method: zip.Deflate})
	plainZIP := buildZIP(t, entry{name: "notes.txt", body: "hello", method: zip.Deflate})
	var emptyZIP bytes.Buffer
	if err := zip.NewWriter(&emptyZIP).Close(); err != nil {
		t.Fatal(err)
	}
	// The same DOCX with its central directory garbled.
	corruptDOCX := bytes.Clone(docx)
	copy(corruptDOCX[len(corruptDOCX)-40:], bytes.Repeat([]byte{0xff}, 20))
	// The same DOCX with its [Content_Types].xml data garbled: the archive
	// opens, the entry does not decompress or fails its checksum.
	badEntryDOCX := bytes.Clone(docx)
	zr, err := zip.NewReader(bytes.NewReader(docx), int64(len(docx)))
	if err != nil {
		t.Fatal(err)
	}
	off, err := zr.File[0].DataOffset()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 16 {
		badEntryDOCX[int(off)+i] ^= 0x5a
	}

	for _, tc := range []struct {
		name  string
		data  []byte
		found string
	}{
		{"empty", nil, "an empty file"},
		{"renamed png", pngHeader, "a PNG image"},
		{"jpeg", []byte("\xff\xd8\xff\xe0\x00\x10JFIF"), "a JPEG image"},
		{"legacy doc", []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00"), "a legacy or password-protected Office file (OLE compound document)"},
		{"rtf", []byte(`{\rtf1\ansi hello}`), "an RTF document"},
		{"html", []byte("\xef\xbb\xbf\n <!DOCTYPE html><title>x</title>"), "an HTML page"},
		{"text", []byte("just some text"), "an unrecognised file"},
		{"pdf after junk", append([]byte("junk\n"), pdf...), "a PDF with data before its header"},
		{"pdf truncated", pdf[:len(pdf)/2], "a truncated PDF (no %%EOF marker near the end)"},
		{"pdf bad version", append([]byte("%PDF-x.y"), pdf[8:]...), "a PDF header without a valid version"},
		{"pdf header only", []byte("%PDF-"), "a PDF header without a valid version"},
		{"ods", buildODF(t, "application/vnd.oasis.opendocument.spreadsheet"), "an ODS spreadsheet"},
		{"ott", buildODF(t, "application/vnd.oasis.opendocument.text-template"), "an ODT template (OTT)"},
		{"epub", buildODF(t, "application/epub+zip"), "an EPUB book"},
		{"odf unknown", buildODF(t, "application/vnd.oasis.opendocument.future"), `an OpenDocument file of type "application/vnd.oasis.opendocument.future"`},
		{"odt mimetype with newline", odtMimetypeNewline, `an OpenDocument file of type "application/vnd.oasis.opendocument.text\n"`},
		{"mimetype not odf", buildODF(t, "text/plain"), "a ZIP archive with an unknown mimetype entry"},
		{"odt compressed mimetype", odtCompressedMimetype, "an OpenDocument-like ZIP archive with a compressed mimetype entry"},
		{"odt mimetype not first", odtMimetypeNotFirst, "a ZIP archive that is neither ODT nor DOCX"},
		{"odt password", odtEncrypted, "a password-protected ODT"},
		{"odt without manifest", odtNoManifest, "an ODT without META-INF/manifest.xml"},
		{"xlsx", buildXLSX(t), "an XLSX spreadsheet"},
		{"docm", buildWord(t, ctDOCM), "a macro-enabled Word document (DOCM)"},
		{"dotx", buildWord(t, ctDOTX), "a Word template (DOTX)"},
		{"docx with vba project", docxWithVBA, "an Office document with macros (vbaProject.bin)"},
		{"docx zipcrypto", zipCryptoDOCX, "an encrypted ZIP archive"},
		{"docx without document", docxNoDocument, "a DOCX-like ZIP archive without word/document.xml"},
		{"docx wrong content type", docxWrongType, "a Word-like ZIP archive whose [Content_Types].xml does not declare a DOCX main document"},
		{"docx malformed content types", docxBadXML, "an Office Open XML package with a malformed [Content_Types].xml"},
		{"docx huge content types", docxHugeTypes, "a ZIP archive whose [Content_Types].xml is too large"},
		{"docx corrupt entry", badEntryDOCX, "a ZIP archive whose [Content_Types].xml is corrupt"},
		{"plain zip", plainZIP, "a ZIP archive that is neither ODT nor DOCX"},
		{"empty zip", emptyZIP.Bytes(), "an empty ZIP archive"},
		{"truncated zip", docx[:len(docx)/2], "a broken or truncated ZIP archive"},
		{"corrupt central directory", corruptDOCX, "a broken or truncated ZIP archive"},
		{"zip signature only", []byte("PK\x03\x04"), "a broken or truncated ZIP archive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sniffBytes(tc.data)
			if err == nil {
				t.Fatalf("Sniff = %q, want an error", got)
			}
			if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error %v does not wrap ErrUnsupported", err)
			}
			var ue *UnsupportedError
			if !errors.As(err, &ue) || ue.Found != tc.found {
				t.Fatalf("error %q, want found %q", err, tc.found)
			}
			if got != "" {
				t.Fatalf("Sniff returned type %q with its error", got)
			}
		})
	}
}

func TestSniffErrorMessage(t *testing.T) {
	_, err := sniffBytes(pngHeader)
	if got, want := err.Error(), "a PNG image: not a PDF, ODT or DOCX document"; got != want {
		t.Fatalf("error %q, want %q", got, want)
	}
}

// countingReaderAt records which byte ranges were read.
type countingReaderAt struct {
	r     io.ReaderAt
	mu    sync.Mutex
	read  int64
	spans [][2]int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.mu.Lock()
	c.read += int64(n)
	c.spans = append(c.spans, [2]int64{off, off + int64(n)})
	c.mu.Unlock()
	return n, err
}

// TestSniffReadsLittle checks that a large document is not read whole and
// that a highly compressed entry (a ZIP bomb) is never decompressed: no read
// touches its compressed data.
func TestSniffReadsLittle(t *testing.T) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range []entry{
		{name: "[Content_Types].xml", body: contentTypesXML("/word/document.xml", ctDOCX), method: zip.Deflate},
		{name: "word/document.xml", body: docxDocument, method: zip.Deflate},
	} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: e.method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, e.body); err != nil {
			t.Fatal(err)
		}
	}
	// 8 MiB of incompressible-looking data, stored; 16 MiB of zeros,
	// deflated to about 16 KiB; and a little more data, so that the reads
	// of the start and the end of the archive do not touch the deflated
	// entry.
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "word/media/big.bin", Method: zip.Store})
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i*7 + i>>8)
	}
	for range 8 {
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	w, err = zw.CreateHeader(&zip.FileHeader{Name: "word/media/bomb.bin", Method: zip.Deflate})
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for range 16 {
		if _, err := w.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	w, err = zw.CreateHeader(&zip.FileHeader{Name: "word/media/after.bin", Method: zip.Store})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(chunk[:8<<10]); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()

	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	bomb := zr.File[3]
	bombStart, err := bomb.DataOffset()
	if err != nil {
		t.Fatal(err)
	}
	bombEnd := bombStart + int64(bomb.CompressedSize64)

	cr := &countingReaderAt{r: bytes.NewReader(data)}
	got, err := Sniff(cr, int64(len(data)))
	if err != nil || got != DOCX {
		t.Fatalf("Sniff = %q, %v; want docx", got, err)
	}
	if cr.read > 64<<10 {
		t.Errorf("Sniff read %d bytes of a %d-byte document", cr.read, len(data))
	}
	for _, s := range cr.spans {
		if s[0] < bombEnd && s[1] > bombStart {
			t.Errorf("Sniff read [%d, %d), inside the compressed entry at [%d, %d)", s[0], s[1], bombStart, bombEnd)
		}
	}
}

type failingReaderAt struct {
	r     io.ReaderAt
	after int64
}

var errDisk = errors.New("disk on fire")

func (f failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.after {
		return 0, errDisk
	}
	return f.r.ReadAt(p, off)
}

// TestSniffReaderError checks that a failing reader is reported as such and
// not as unsupported content.
func TestSniffReaderError(t *testing.T) {
	for _, data := range [][]byte{buildPDF(t), buildDOCX(t), buildODT(t)} {
		for _, after := range []int64{0, 100, int64(len(data)) - 30} {
			_, err := Sniff(failingReaderAt{r: bytes.NewReader(data), after: after}, int64(len(data)))
			if !errors.Is(err, errDisk) || errors.Is(err, ErrUnsupported) {
				t.Fatalf("error %v, want one wrapping %v and not ErrUnsupported", err, errDisk)
			}
		}
	}
}

func TestSniffSizeLargerThanContent(t *testing.T) {
	pdf := buildPDF(t)
	_, err := Sniff(bytes.NewReader(pdf), int64(len(pdf))+10)
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("error %v, want ErrUnsupported", err)
	}
	if _, err := Sniff(bytes.NewReader(pdf), -1); err == nil || errors.Is(err, ErrUnsupported) {
		t.Fatalf("negative size: error %v", err)
	}
}

func TestUnknownType(t *testing.T) {
	if Type("exe").MediaType() != "" || Type("exe").Extension() != "" {
		t.Fatal("an unknown Type has a media type or extension")
	}
}

// buildPDFXRefStream writes a small PDF 1.5 whose cross-reference section is
// a stream (as LibreOffice and most current writers produce), uncompressed.
func buildPDFXRefStream(t testing.TB) []byte {
	t.Helper()
	objects := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, 0, len(objects)+1)
	for i, o := range objects {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	offsets = append(offsets, xref)
	// Entries of 1 + 4 + 2 bytes: type, offset, generation.
	var data bytes.Buffer
	data.Write([]byte{0, 0, 0, 0, 0, 0xff, 0xff})
	for _, off := range offsets {
		data.Write([]byte{1, byte(off >> 24), byte(off >> 16), byte(off >> 8), byte(off), 0, 0})
	}
	fmt.Fprintf(&b, "%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n",
		len(objects)+1, len(objects)+2, data.Len())
	b.Write(data.Bytes())
	fmt.Fprintf(&b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", xref)
	return b.Bytes()
}

// TestPDFStructure: a PDF is recognised by its structure, not only by the
// markers at its ends, so that an executable wrapped in "%PDF-" and "%%EOF"
// is refused; PDFs with a cross-reference table or stream pass.
func TestPDFStructure(t *testing.T) {
	pdf := buildPDF(t)
	for _, ok := range []struct {
		name string
		data []byte
	}{
		{"a cross-reference table", pdf},
		{"a cross-reference stream", buildPDFXRefStream(t)},
		{"an incremental update after the first trailer", append(append([]byte{}, pdf...), incrementalUpdate(len(pdf))...)},
	} {
		if got, err := sniffBytes(ok.data); err != nil || got != PDF {
			t.Errorf("%s: got %q, %v; want a PDF", ok.name, got, err)
		}
	}
	xrefAt := bytes.LastIndex(pdf, []byte("xref\n0 "))
	elf := append([]byte("\x7fELF\x02\x01\x01\x00"), make([]byte, 4096)...)
	for _, bad := range []struct {
		name, data, found string
	}{
		{"an ELF wrapped in the markers", "%PDF-1.7\n" + string(elf) + "\n%%EOF\n", "an ELF executable wrapped in PDF markers"},
		{"an ELF after a comment line", "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + string(elf) + "\nstartxref\n9\n%%EOF\n", "an ELF executable wrapped in PDF markers"},
		{"a Windows executable wrapped", "%PDF-1.4\nMZ\x90\x00" + string(make([]byte, 200)) + "\n%%EOF\n", "a Windows executable wrapped in PDF markers"},
		{"the markers and text", "%PDF-1.7\nhello\n%%EOF\n", "a PDF whose body does not start with an object"},
		{"the markers and an object", "%PDF-1.7\n1 0 obj\n<< >>\nendobj\n%%EOF\n", "a PDF without startxref"},
		{"startxref past the end", strings.Replace(string(pdf), fmt.Sprintf("startxref\n%d", xrefAt), "startxref\n99999999", 1),
			"a PDF whose startxref points outside the file"},
		{"startxref into an object", strings.Replace(string(pdf), fmt.Sprintf("startxref\n%d", xrefAt), "startxref\n20", 1),
			"a PDF whose startxref points at no cross-reference section"},
		{"a table without trailer", strings.Replace(string(pdf), "trailer", "tr4iler", 1), "a PDF with a cross-reference table but no trailer"},
	} {
		got, err := sniffBytes([]byte(bad.data))
		var u *UnsupportedError
		if !errors.As(err, &u) || u.Found != bad.found {
			t.Errorf("%s: got %q, %v; want refused as %q", bad.name, got, err, bad.found)
		}
	}
}

// incrementalUpdate is an update appended to a PDF of size n: one changed
// object, its cross-reference table and a trailer pointing back.
func incrementalUpdate(n int) []byte {
	var b bytes.Buffer
	obj := n
	b.WriteString("3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>\nendobj\n")
	xref := n + b.Len()
	fmt.Fprintf(&b, "xref\n3 1\n%010d 00000 n \ntrailer\n<< /Size 6 /Root 1 0 R /Prev 0 >>\nstartxref\n%d\n%%%%EOF\n", obj, xref)
	return b.Bytes()
}

// TestZIPEntryNamesAreChecked: an archive with an entry that would escape
// the directory it is extracted to is refused, whatever GODEBUG's
// zipinsecurepath says (archive/zip checks only when it is 0, and the
// default is 1).
func TestZIPEntryNamesAreChecked(t *testing.T) {
	for _, godebug := range []string{"zipinsecurepath=1", "zipinsecurepath=0"} {
		t.Setenv("GODEBUG", godebug)
		for _, name := range []string{"../evil", "word/../../evil", "/etc/evil", `..\evil`, `word\..\..\evil`, "C:/evil", "C:evil"} {
			data := buildZIP(t,
				entry{name: "[Content_Types].xml", body: contentTypesXML("/word/document.xml", ctDOCX), method: zip.Deflate},
				entry{name: "word/document.xml", body: "<w:document/>", method: zip.Deflate},
				entry{name: name, body: "#!/bin/sh\n", method: zip.Deflate},
			)
			got, err := sniffBytes(data)
			var u *UnsupportedError
			if !errors.As(err, &u) || u.Found != "a ZIP archive with unsafe entry names" {
				t.Errorf("%s, entry %q: got %q, %v; want refused for its entry names", godebug, name, got, err)
			}
		}
	}
	// The same archive with plain names is a DOCX: the names are the reason.
	data := buildZIP(t,
		entry{name: "[Content_Types].xml", body: contentTypesXML("/word/document.xml", ctDOCX), method: zip.Deflate},
		entry{name: "word/document.xml", body: "<w:document/>", method: zip.Deflate},
		entry{name: "word/evil", body: "#!/bin/sh\n", method: zip.Deflate},
	)
	if got, err := sniffBytes(data); err != nil || got != DOCX {
		t.Errorf("plain names: got %q, %v; want a DOCX", got, err)
	}
}
