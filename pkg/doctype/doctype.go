// Package doctype recognises the document formats accepted for position
// papers (PDF, ODT and DOCX) by their content, never by their name.
//
// Sniff reads through an io.ReaderAt so that a document of tens of megabytes
// is not loaded whole: it reads a few kilobytes at the start and end, the ZIP
// central directory, and at most a bounded amount of the one or two small
// entries that identify an office document. It never decompresses any other
// entry, so a ZIP bomb costs it nothing.
//
// The rules, strict on purpose:
//
//   - PDF: "%PDF-" and a version ("1.x" or "2.x") at offset 0, and "%%EOF" in
//     the last 1024 bytes. ISO 32000 puts the header at the start of the
//     file; some readers tolerate up to 1024 bytes of junk before it, but an
//     upload has no reason to carry any. The end marker catches truncated
//     uploads. A header found after junk is reported as such. Beyond the
//     markers, the structure every PDF writer produces: after the header and
//     comment lines, the body starts with an object ("1 0 obj"; an
//     executable wrapped in the markers is named as such); "startxref" in
//     the last 4 KiB gives an offset inside the file where a cross-reference
//     table ("xref", preceded by an object's "endobj", with a "trailer"
//     before startxref) or a cross-reference stream (an object with
//     /XRef, whose "endobj" precedes startxref) begins.
//   - ODT: a ZIP archive that starts with a local file header for an
//     uncompressed entry named "mimetype", which is also the first entry of
//     the central directory, whose content is exactly
//     "application/vnd.oasis.opendocument.text" (ODF 1.2 part 3, 3.3), and
//     whose META-INF/manifest.xml declares no encrypted entry.
//   - DOCX: a ZIP archive that starts with a local file header and holds
//     "[Content_Types].xml" and "word/document.xml", where the content type
//     of /word/document.xml (an Override, else the Default for the "xml"
//     extension) is the WordprocessingML main document type. Macro-enabled
//     documents (DOCM, or any archive holding a vbaProject.bin) and templates
//     are refused.
//
// Archives with an entry whose name is absolute, holds "..", a backslash or
// a drive letter are refused whatever GODEBUG's zipinsecurepath says.
// Archives with an encrypted entry, broken or truncated archives, and every
// other format are refused with an error that wraps ErrUnsupported and says
// what was found.
package doctype

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Type is an accepted document format.
type Type string

// The accepted formats.
const (
	PDF  Type = "pdf"
	ODT  Type = "odt"
	DOCX Type = "docx"
)

// Media types of the accepted formats.
const (
	MediaTypePDF  = "application/pdf"
	MediaTypeODT  = "application/vnd.oasis.opendocument.text"
	MediaTypeDOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
)

// MediaType is the IANA media type of t, or "" for an unknown Type.
func (t Type) MediaType() string {
	switch t {
	case PDF:
		return MediaTypePDF
	case ODT:
		return MediaTypeODT
	case DOCX:
		return MediaTypeDOCX
	}
	return ""
}

// Extension is the usual file name extension of t, with its dot, or "" for
// an unknown Type. It is meant for naming downloads, never for recognising.
func (t Type) Extension() string {
	switch t {
	case PDF, ODT, DOCX:
		return "." + string(t)
	}
	return ""
}

// ErrUnsupported is wrapped by every error that Sniff returns for content
// that is not an accepted document.
var ErrUnsupported = errors.New("not a PDF, ODT or DOCX document")

// UnsupportedError is the error Sniff returns for content that is not an
// accepted document. It unwraps to ErrUnsupported.
type UnsupportedError struct {
	// Found says in a few words what the content is, for people:
	// "a PNG image", "an ODS spreadsheet", "a broken or truncated ZIP archive".
	Found string
}

func (e *UnsupportedError) Error() string { return e.Found + ": " + ErrUnsupported.Error() }

// Unwrap returns ErrUnsupported.
func (e *UnsupportedError) Unwrap() error { return ErrUnsupported }

func unsupported(format string, args ...any) error {
	return &UnsupportedError{Found: fmt.Sprintf(format, args...)}
}

// Limits on what Sniff reads.
const (
	// headLen is how much of the start of the content Sniff looks at for
	// signatures.
	headLen = 1024
	// pdfTrailerLen is how far from the end "%%EOF" may be.
	pdfTrailerLen = 1024
	// pdfTailLen is how much of the end Sniff reads for the trailer and
	// startxref.
	pdfTailLen = 4096
	// maxSmallEntry bounds the bytes read from [Content_Types].xml and
	// META-INF/manifest.xml, once decompressed.
	maxSmallEntry = 1 << 20
	// maxMimetypeLen bounds the ODF mimetype entry.
	maxMimetypeLen = 256
)

// Main document content types found in [Content_Types].xml.
const (
	ctDOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
	ctDOCM = "application/vnd.ms-word.document.macroEnabled.main+xml"
	ctDOTX = "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml"
	ctDOTM = "application/vnd.ms-word.template.macroEnabledTemplate.main+xml"
	ctVBA  = "application/vnd.ms-office.vbaProject"
)

var (
	sigPDF = []byte("%PDF-")
	sigZIP = []byte("PK\x03\x04")
)

// Sniff tells which accepted format the size bytes readable from r are in.
// For content that is not an accepted document it returns an error wrapping
// ErrUnsupported (an *UnsupportedError); any other error comes from r.
func Sniff(r io.ReaderAt, size int64) (Type, error) {
	if size < 0 {
		return "", fmt.Errorf("doctype: negative size %d", size)
	}
	if size == 0 {
		return "", unsupported("an empty file")
	}
	tr := &trackingReaderAt{r: r}
	t, err := sniff(tr, size)
	if err != nil && tr.err != nil {
		// Whatever the content looked like, reading it failed: say so rather
		// than blame the content.
		return "", fmt.Errorf("doctype: reading content: %w", tr.err)
	}
	return t, err
}

// trackingReaderAt remembers the first error, other than io.EOF, of the
// reader it wraps, so that Sniff can tell a failing reader from bad content
// however archive/zip reports it.
type trackingReaderAt struct {
	r   io.ReaderAt
	err error
}

func (t *trackingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := t.r.ReadAt(p, off)
	if err != nil && !errors.Is(err, io.EOF) && t.err == nil {
		t.err = err
	}
	return n, err
}

func sniff(r io.ReaderAt, size int64) (Type, error) {
	head, err := readAt(r, 0, min(size, headLen))
	if err != nil {
		return "", err
	}
	switch {
	case bytes.HasPrefix(head, sigPDF):
		return sniffPDF(r, size, head)
	case bytes.HasPrefix(head, sigZIP):
		return sniffZIP(r, size, head)
	}
	return "", unsupported("%s", describe(head))
}

// readAt reads exactly n bytes at off.
func readAt(r io.ReaderAt, off, n int64) ([]byte, error) {
	buf := make([]byte, n)
	got, err := r.ReadAt(buf, off)
	if got == len(buf) {
		return buf, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return nil, unsupported("content shorter than its stated size")
	}
	return nil, fmt.Errorf("doctype: reading %d bytes at %d: %w", n, off, err)
}

func sniffPDF(r io.ReaderAt, size int64, head []byte) (Type, error) {
	v := head[len(sigPDF):]
	if len(v) < 3 || (v[0] != '1' && v[0] != '2') || v[1] != '.' || v[2] < '0' || v[2] > '9' {
		return "", unsupported("a PDF header without a valid version")
	}
	tail, err := readAt(r, size-min(size, pdfTailLen), min(size, pdfTailLen))
	if err != nil {
		return "", err
	}
	if !bytes.Contains(tail[max(0, len(tail)-pdfTrailerLen):], []byte("%%EOF")) {
		return "", unsupported("a truncated PDF (no %%%%EOF marker near the end)")
	}
	// The body starts, after the header and comment lines, with an object
	// ("1 0 obj"): anything else (an executable wrapped in the markers,
	// most often) is not a PDF.
	body := skipPDFComments(head)
	if exe := executable(body); exe != "" {
		return "", unsupported("%s wrapped in PDF markers", exe)
	}
	if !pdfObjectStart.Match(body) {
		return "", unsupported("a PDF whose body does not start with an object")
	}
	// startxref (ISO 32000-1, 7.5.5) gives the offset of the last
	// cross-reference section: a table ("xref", followed by a trailer) or a
	// cross-reference stream (an object of type XRef). It must point inside
	// the file, after the header, at one of them.
	i := bytes.LastIndex(tail, []byte("startxref"))
	if i < 0 {
		return "", unsupported("a PDF without startxref")
	}
	m := pdfStartXref.FindSubmatch(tail[i:])
	if m == nil {
		return "", unsupported("a PDF whose startxref gives no offset")
	}
	off, err := strconv.ParseInt(string(m[1]), 10, 64)
	if err != nil || off < int64(len(sigPDF)) || off >= size-int64(len(tail)-i) {
		return "", unsupported("a PDF whose startxref points outside the file")
	}
	at, err := readAt(r, off, min(size-off, 1024))
	if err != nil {
		return "", err
	}
	switch {
	case bytes.HasPrefix(at, []byte("xref")):
		// A table: a trailer dictionary follows it, before startxref, and
		// the object before it ends with endobj.
		if !bytes.Contains(tail[:i], []byte("trailer")) {
			return "", unsupported("a PDF with a cross-reference table but no trailer")
		}
		before, err := readAt(r, max(0, off-64), min(off, 64))
		if err != nil {
			return "", err
		}
		if !bytes.HasSuffix(bytes.TrimRight(before, " \t\r\n\f\x00"), []byte("endobj")) {
			return "", unsupported("a PDF whose cross-reference table follows no object")
		}
	case pdfObjectStart.Match(at):
		// A cross-reference stream: an object of type XRef that ends
		// before startxref.
		if !bytes.Contains(at, []byte("/XRef")) || !bytes.Contains(tail[:i], []byte("endobj")) {
			return "", unsupported("a PDF whose startxref points at an object that is not a cross-reference stream")
		}
	default:
		return "", unsupported("a PDF whose startxref points at no cross-reference section")
	}
	return PDF, nil
}

var (
	// pdfObjectStart is an indirect object's start: "12 0 obj".
	pdfObjectStart = regexp.MustCompile(`^[0-9]{1,10}[ \t\r\n\f\x00]+[0-9]{1,5}[ \t\r\n\f\x00]+obj\b`)
	// pdfStartXref is "startxref", end of line, and the offset.
	pdfStartXref = regexp.MustCompile(`^startxref[ \t\r\n\f\x00]+([0-9]{1,19})`)
)

// skipPDFComments returns head after its first line (the header) and the
// comment lines that follow (the binary marker "%âãÏÓ", mostly) and blanks.
func skipPDFComments(head []byte) []byte {
	rest := head
	for first := true; ; first = false {
		if !first {
			rest = bytes.TrimLeft(rest, " \t\r\n\f\x00")
			if len(rest) == 0 || rest[0] != '%' {
				return rest
			}
		}
		j := bytes.IndexAny(rest, "\r\n")
		if j < 0 {
			return nil
		}
		rest = rest[j:]
	}
}

// executable names the executable format that b starts with, or "".
func executable(b []byte) string {
	has := func(s string) bool { return bytes.HasPrefix(b, []byte(s)) }
	switch {
	case has("\x7fELF"):
		return "an ELF executable"
	case has("MZ"):
		return "a Windows executable"
	case has("\xfe\xed\xfa\xce"), has("\xfe\xed\xfa\xcf"), has("\xce\xfa\xed\xfe"), has("\xcf\xfa\xed\xfe"), has("\xca\xfe\xba\xbe"):
		return "a Mach-O executable"
	case has("#!"):
		return "a script"
	}
	return ""
}

// Local file header layout (APPNOTE 4.3.7).
const (
	lfhLen         = 30
	lfhFlags       = 6
	lfhMethod      = 8
	lfhNameLen     = 26
	lfhExtraLen    = 28
	flagEncrypted  = 0x1
	odfMimetypeKey = "mimetype"
)

func sniffZIP(r io.ReaderAt, size int64, head []byte) (Type, error) {
	zr, err := zip.NewReader(io.NewSectionReader(r, 0, size), size)
	if err != nil {
		if errors.Is(err, zip.ErrInsecurePath) {
			return "", unsupported("a ZIP archive with unsafe entry names")
		}
		return "", unsupported("a broken or truncated ZIP archive")
	}
	if len(zr.File) == 0 {
		return "", unsupported("an empty ZIP archive")
	}
	for _, f := range zr.File {
		// archive/zip checks names only when GODEBUG=zipinsecurepath=0,
		// which is not the default: check them here, whatever GODEBUG says.
		if !safeEntryName(f.Name) {
			return "", unsupported("a ZIP archive with unsafe entry names")
		}
		if f.Flags&flagEncrypted != 0 {
			return "", unsupported("an encrypted ZIP archive")
		}
	}
	if zr.File[0].Name == odfMimetypeKey {
		return sniffODF(zr, head)
	}
	return sniffOOXML(zr)
}

// safeEntryName says whether a ZIP entry name stays inside the directory it
// would be extracted to, on any system: relative, without ".." elements,
// backslashes or a drive letter. Office documents use plain relative names.
func safeEntryName(name string) bool {
	if name == "" || strings.ContainsAny(name, "\\\x00") || (len(name) >= 2 && name[1] == ':') {
		return false
	}
	return filepath.IsLocal(name) && !slices.Contains(strings.Split(name, "/"), "..")
}

// odfKinds names the OpenDocument and related formats that use a mimetype
// entry, for the messages about what was found.
var odfKinds = map[string]string{
	"application/vnd.oasis.opendocument.text-template":         "an ODT template (OTT)",
	"application/vnd.oasis.opendocument.text-master":           "an OpenDocument master document (ODM)",
	"application/vnd.oasis.opendocument.text-web":              "an OpenDocument web page (OTH)",
	"application/vnd.oasis.opendocument.spreadsheet":           "an ODS spreadsheet",
	"application/vnd.oasis.opendocument.spreadsheet-template":  "an ODS spreadsheet template (OTS)",
	"application/vnd.oasis.opendocument.presentation":          "an ODP presentation",
	"application/vnd.oasis.opendocument.presentation-template": "an ODP presentation template (OTP)",
	"application/vnd.oasis.opendocument.graphics":              "an ODG drawing",
	"application/vnd.oasis.opendocument.chart":                 "an ODC chart",
	"application/vnd.oasis.opendocument.formula":               "an ODF formula",
	"application/vnd.oasis.opendocument.database":              "an ODB database",
	"application/vnd.oasis.opendocument.image":                 "an ODI image",
	"application/epub+zip":                                     "an EPUB book",
}

func sniffODF(zr *zip.Reader, head []byte) (Type, error) {
	// The mimetype entry must be the first thing in the file, stored, so that
	// its content sits at a fixed place: check the local header at offset 0
	// as well as the central directory.
	if len(head) < lfhLen {
		return "", unsupported("a broken or truncated ZIP archive")
	}
	nameLen := int(binary.LittleEndian.Uint16(head[lfhNameLen:]))
	extraLen := int64(binary.LittleEndian.Uint16(head[lfhExtraLen:]))
	if nameLen != len(odfMimetypeKey) || len(head) < lfhLen+nameLen ||
		string(head[lfhLen:lfhLen+nameLen]) != odfMimetypeKey {
		return "", unsupported("a ZIP archive whose mimetype entry is not at its start")
	}
	mt := zr.File[0]
	if mt.Method != zip.Store || binary.LittleEndian.Uint16(head[lfhMethod:]) != uint16(zip.Store) {
		return "", unsupported("an OpenDocument-like ZIP archive with a compressed mimetype entry")
	}
	if binary.LittleEndian.Uint16(head[lfhFlags:])&flagEncrypted != 0 {
		return "", unsupported("an encrypted ZIP archive")
	}
	off, err := mt.DataOffset()
	if err != nil || off != lfhLen+int64(nameLen)+extraLen {
		return "", unsupported("a ZIP archive whose mimetype entry is not at its start")
	}
	if mt.UncompressedSize64 > maxMimetypeLen {
		return "", unsupported("a ZIP archive with an oversized mimetype entry")
	}
	data, err := readEntry(mt, maxMimetypeLen)
	if err != nil {
		return "", err
	}
	switch got := string(data); got {
	case MediaTypeODT:
	default:
		if kind, ok := odfKinds[got]; ok {
			return "", unsupported("%s", kind)
		}
		if strings.HasPrefix(got, "application/vnd.oasis.opendocument.") {
			return "", unsupported("an OpenDocument file of type %q", got)
		}
		return "", unsupported("a ZIP archive with an unknown mimetype entry")
	}
	manifest := findFile(zr, "META-INF/manifest.xml")
	if manifest == nil {
		return "", unsupported("an ODT without META-INF/manifest.xml")
	}
	enc, err := manifestEncrypted(manifest)
	if err != nil {
		return "", err
	}
	if enc {
		return "", unsupported("a password-protected ODT")
	}
	return ODT, nil
}

// manifestEncrypted tells whether an ODF manifest declares encryption data
// for any entry.
func manifestEncrypted(f *zip.File) (bool, error) {
	data, err := readEntry(f, maxSmallEntry)
	if err != nil {
		return false, err
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			return false, unsupported("an ODT with a malformed META-INF/manifest.xml")
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "encryption-data" {
			return true, nil
		}
	}
}

func sniffOOXML(zr *zip.Reader) (Type, error) {
	ct := findFile(zr, "[Content_Types].xml")
	if ct == nil {
		return "", unsupported("a ZIP archive that is neither ODT nor DOCX")
	}
	types, err := readContentTypes(ct)
	if err != nil {
		return "", err
	}
	for _, f := range zr.File {
		if strings.EqualFold(path.Base(f.Name), "vbaProject.bin") {
			return "", unsupported("an Office document with macros (vbaProject.bin)")
		}
	}
	for _, o := range types.Overrides {
		if strings.EqualFold(strings.TrimSpace(o.ContentType), ctVBA) {
			return "", unsupported("an Office document with macros (vbaProject.bin)")
		}
	}
	main := types.contentType("/word/document.xml")
	switch {
	case strings.EqualFold(main, ctDOCM):
		return "", unsupported("a macro-enabled Word document (DOCM)")
	case strings.EqualFold(main, ctDOTM):
		return "", unsupported("a macro-enabled Word template (DOTM)")
	case strings.EqualFold(main, ctDOTX):
		return "", unsupported("a Word template (DOTX)")
	case strings.EqualFold(main, ctDOCX):
		if findFile(zr, "word/document.xml") == nil {
			return "", unsupported("a DOCX-like ZIP archive without word/document.xml")
		}
		return DOCX, nil
	}
	switch {
	case findFile(zr, "xl/workbook.xml") != nil:
		return "", unsupported("an XLSX spreadsheet")
	case findFile(zr, "ppt/presentation.xml") != nil:
		return "", unsupported("a PPTX presentation")
	case findFile(zr, "word/document.xml") != nil:
		return "", unsupported("a Word-like ZIP archive whose [Content_Types].xml does not declare a DOCX main document")
	}
	return "", unsupported("an Office Open XML package that is not a Word document")
}

// contentTypes is the part of [Content_Types].xml (ECMA-376 part 2) that
// Sniff needs.
type contentTypes struct {
	Defaults []struct {
		Extension   string `xml:"Extension,attr"`
		ContentType string `xml:"ContentType,attr"`
	} `xml:"Default"`
	Overrides []struct {
		PartName    string `xml:"PartName,attr"`
		ContentType string `xml:"ContentType,attr"`
	} `xml:"Override"`
}

// contentType is the content type of the part named part: its Override, or
// else the Default for its extension. Part names compare without regard to
// ASCII case (ECMA-376 part 2, 9.1.1).
func (c *contentTypes) contentType(part string) string {
	for _, o := range c.Overrides {
		if strings.EqualFold(strings.TrimSpace(o.PartName), part) {
			return strings.TrimSpace(o.ContentType)
		}
	}
	ext := strings.TrimPrefix(path.Ext(part), ".")
	for _, d := range c.Defaults {
		if strings.EqualFold(strings.TrimSpace(d.Extension), ext) {
			return strings.TrimSpace(d.ContentType)
		}
	}
	return ""
}

func readContentTypes(f *zip.File) (*contentTypes, error) {
	data, err := readEntry(f, maxSmallEntry)
	if err != nil {
		return nil, err
	}
	var c contentTypes
	if err := xml.Unmarshal(data, &c); err != nil {
		return nil, unsupported("an Office Open XML package with a malformed [Content_Types].xml")
	}
	return &c, nil
}

// readEntry decompresses at most limit bytes of f, refusing entries that are
// larger (whatever their header claims) or whose checksum is wrong.
func readEntry(f *zip.File, limit int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, unsupported("a ZIP archive whose %s is too large", f.Name)
	}
	rc, err := f.Open()
	if err != nil {
		// An unknown compression method, mostly; a failing reader is
		// reported by Sniff.
		return nil, unsupported("a ZIP archive whose %s cannot be read", f.Name)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, unsupported("a ZIP archive whose %s is corrupt", f.Name)
	}
	if int64(len(data)) > limit {
		return nil, unsupported("a ZIP archive whose %s is too large", f.Name)
	}
	return data, nil
}

// findFile returns the entry named name, or nil.
func findFile(zr *zip.Reader, name string) *zip.File {
	for _, f := range zr.File {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// describe names the format of content that starts with head, for the
// messages about what was found.
func describe(head []byte) string {
	has := func(s string) bool { return bytes.HasPrefix(head, []byte(s)) }
	switch {
	case has("\x89PNG\r\n\x1a\n"):
		return "a PNG image"
	case has("\xff\xd8\xff"):
		return "a JPEG image"
	case has("GIF87a"), has("GIF89a"):
		return "a GIF image"
	case len(head) >= 12 && has("RIFF") && string(head[8:12]) == "WEBP":
		return "a WebP image"
	case has("II*\x00"), has("MM\x00*"):
		return "a TIFF image"
	case has("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
		return "a legacy or password-protected Office file (OLE compound document)"
	case has("{\\rtf"):
		return "an RTF document"
	case has("PK\x05\x06"):
		return "an empty ZIP archive"
	case has("PK"):
		return "a ZIP archive that does not start with a file entry"
	case has("\x1f\x8b"):
		return "a gzip archive"
	case has("7z\xbc\xaf\x27\x1c"):
		return "a 7-Zip archive"
	case has("Rar!\x1a\x07"):
		return "a RAR archive"
	case has("\x7fELF"):
		return "an ELF executable"
	case has("MZ"):
		return "a Windows executable"
	}
	if i := bytes.Index(head, sigPDF); i > 0 {
		return "a PDF with data before its header"
	}
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
	lower := bytes.ToLower(trimmed[:min(len(trimmed), 64)])
	switch {
	case bytes.HasPrefix(lower, []byte("<!doctype html")), bytes.HasPrefix(lower, []byte("<html")):
		return "an HTML page"
	case bytes.HasPrefix(lower, []byte("<?xml")):
		return "an XML file"
	}
	return "an unrecognised file"
}
