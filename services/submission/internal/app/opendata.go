package app

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
	"github.com/consulta-platform/consulta/services/submission/internal/store"
)

// OpenDataFormat is the format of an open-data export.
type OpenDataFormat string

// Open-data formats.
const (
	OpenDataCSV    OpenDataFormat = "csv"
	OpenDataNDJSON OpenDataFormat = "ndjson"
)

// OpenDataChunkSize is the size of the chunks an export is written in.
const OpenDataChunkSize = 32 << 10

// openDataColumns are the columns before the answers, in the CSV header and
// in each NDJSON object.
var openDataColumns = []string{
	"submission_id", "created_at", "stakeholder_type", "country", "region", "language",
	"organisation_name", "transparency_register_id",
}

// ExportOpenData writes the public submissions of a consultation to w as
// CSV or NDJSON, oldest first, streamed from the database in constant
// memory and written in chunks of OpenDataChunkSize. Public means active and
// not confidential; anonymous submissions come without organisation name
// and register number, and no export ever carries a contact address or a
// person's name.
//
// CSV: a header of submission_id, created_at, stakeholder_type, country,
// region, language, organisation_name, transparency_register_id, then one
// column per question id in questionnaire order; a text answer as written,
// choices joined with "|", a scale as its number, a ranking joined with ">"
// (most preferred first), a file as its blob id, and an empty cell for a
// question not answered; then, per text question and language of the
// consultation, "<question>.translation.<language>" with the translation of
// the current version and "<question>.translation.<language>.label" saying
// what it is ("machine translation by <provider> [<model>] at <time>").
//
// NDJSON: one JSON object per submission with the same fields and "answers",
// an object keyed by question id in questionnaire order, holding what was
// answered: a text and a file's blob id as strings, choices and rankings as
// arrays of option ids, a scale as a number; and, when there are any,
// "translations": an array of {question_id, language, text, kind, provider,
// model, translated_at}, apart from the answers.
//
// Every CSV cell that a spreadsheet would take for a formula is written as
// text, following OWASP's guidance on CSV injection: a cell whose first
// character is =, +, -, @, a tab or a carriage return, or whose first
// character after leading whitespace and quote marks is =, +, - or @, gets a
// single quote (') in front. The csv writer then quotes the cell as CSV
// requires (a cell with a comma, a quote or a line break is enclosed in
// double quotes, its quotes doubled), so the quote stays part of the cell.
// NDJSON carries values unchanged: it is data for programs, not a sheet.
//
// A draft consultation is not public: NotFound, as for an unknown one.
func (a *App) ExportOpenData(ctx context.Context, consultationID string, format OpenDataFormat, w io.Writer) error {
	c, err := a.store.Consultation(ctx, consultationID)
	if err != nil {
		return err
	}
	if c.Status == domain.StatusDraft {
		return apperr.NotFound("consultation_id", "consultation %s not found", consultationID)
	}
	bw := bufio.NewWriterSize(w, OpenDataChunkSize)
	var enc openDataEncoder
	switch format {
	case OpenDataCSV:
		enc = newCSVEncoder(bw, c.Questions, c.Languages)
	case OpenDataNDJSON:
		enc = &ndjsonEncoder{w: bw, questions: c.Questions}
	default:
		return apperr.Invalid("format", "unknown open-data format %q: csv or ndjson", format)
	}
	if err := enc.header(); err != nil {
		return fmt.Errorf("open data: %w", err)
	}
	if err := a.store.WalkOpenData(ctx, consultationID, enc.row); err != nil {
		return err
	}
	if err := enc.flush(); err != nil {
		return fmt.Errorf("open data: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("open data: %w", err)
	}
	return nil
}

type openDataEncoder interface {
	header() error
	row(*store.OpenDataRow) error
	flush() error
}

// csvEncoder writes rows through one reused record.
type csvEncoder struct {
	w      *csv.Writer
	record []string
	names  []string       // the header
	column map[string]int // question id (or translationColumn) -> index in record
}

func newCSVEncoder(w io.Writer, questions []domain.Question, languages []string) *csvEncoder {
	e := &csvEncoder{
		// w is a bufio.Writer of OpenDataChunkSize bytes, which the csv
		// writer uses as it is instead of buffering again.
		w:      csv.NewWriter(w),
		column: make(map[string]int, len(questions)),
	}
	e.names = append(e.names, openDataColumns...)
	for _, q := range questions {
		e.column[q.ID] = len(e.names)
		e.names = append(e.names, q.ID)
	}
	// Two columns per text question and language for its translations:
	// the translated text, and its label (kind, provider, model, time).
	for _, q := range questions {
		if q.Kind != domain.KindText {
			continue
		}
		for _, l := range languages {
			e.column[translationColumn(q.ID, l)] = len(e.names)
			e.names = append(e.names, translationColumn(q.ID, l), translationColumn(q.ID, l)+".label")
		}
	}
	e.record = make([]string, len(e.names))
	return e
}

// translationColumn names the CSV column of the translation of the answers
// to question q into language l.
func translationColumn(q, l string) string { return q + ".translation." + l }

// translationLabel says what a translation is: "machine translation by
// <provider> [<model>] at <time>".
func translationLabel(t domain.Translation) string {
	by := t.Provider
	if t.Model != "" {
		by += " " + t.Model
	}
	return string(t.Kind) + " translation by " + by + " at " + t.TranslatedAt.UTC().Format(time.RFC3339)
}

func (e *csvEncoder) header() error {
	copy(e.record, e.names)
	return e.w.Write(e.record)
}

func (e *csvEncoder) row(r *store.OpenDataRow) error {
	clear(e.record)
	copy(e.record, []string{
		r.ID, r.CreatedAt.UTC().Format(time.RFC3339Nano), r.StakeholderType, r.Country, r.Region, r.Language,
		r.OrganisationName, r.TransparencyRegisterID,
	})
	for _, a := range r.Answers {
		if i, ok := e.column[a.QuestionID]; ok {
			e.record[i] = answerCell(a)
		}
	}
	for _, t := range r.Translations {
		if i, ok := e.column[translationColumn(t.QuestionID, t.Language)]; ok {
			e.record[i], e.record[i+1] = t.Text, translationLabel(t)
		}
	}
	for i, cell := range e.record {
		e.record[i] = safeCSVCell(cell)
	}
	return e.w.Write(e.record)
}

// safeCSVCell is cell as a spreadsheet shows it as text, never as a formula
// (OWASP, CSV injection): a single quote is put in front of a cell that
// starts with =, +, -, @, a tab or a carriage return, or that starts with
// =, +, - or @ after whitespace and quote marks (" =1+1", "\"=1+1", "'@x"),
// which some spreadsheets skip. Any other cell is returned as it is. A
// negative number becomes text too, which no column of the export holds.
func safeCSVCell(cell string) string {
	if cell == "" {
		return cell
	}
	switch cell[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + cell
	}
	for _, r := range cell {
		switch {
		case r == '=' || r == '+' || r == '-' || r == '@':
			return "'" + cell
		case r == '"' || r == '\'' || unicode.IsSpace(r):
			continue
		}
		return cell
	}
	return cell
}

func (e *csvEncoder) flush() error {
	e.w.Flush()
	return e.w.Error()
}

// answerCell is an answer as one CSV cell.
func answerCell(a domain.Answer) string {
	switch a.Kind {
	case domain.AnswerText:
		return a.Text
	case domain.AnswerChoice:
		return strings.Join(a.Options, "|")
	case domain.AnswerScale:
		if a.Scale == 0 {
			return ""
		}
		return strconv.Itoa(a.Scale)
	case domain.AnswerRanking:
		return strings.Join(a.Options, ">")
	case domain.AnswerFile:
		return a.BlobID
	}
	return ""
}

// ndjsonEncoder builds each line in one reused buffer.
type ndjsonEncoder struct {
	w         io.Writer
	questions []domain.Question
	buf       []byte
	byID      map[string]domain.Answer
}

func (e *ndjsonEncoder) header() error { return nil }
func (e *ndjsonEncoder) flush() error  { return nil }

func (e *ndjsonEncoder) row(r *store.OpenDataRow) error {
	if e.byID == nil {
		e.byID = make(map[string]domain.Answer, len(e.questions))
	}
	clear(e.byID)
	for _, a := range r.Answers {
		e.byID[a.QuestionID] = a
	}
	b := e.buf[:0]
	for i, v := range []string{
		r.ID, r.CreatedAt.UTC().Format(time.RFC3339Nano), r.StakeholderType, r.Country, r.Region, r.Language,
		r.OrganisationName, r.TransparencyRegisterID,
	} {
		b = append(b, ',')
		if i == 0 {
			b[len(b)-1] = '{'
		}
		b = appendJSONString(b, openDataColumns[i])
		b = append(b, ':')
		b = appendJSONString(b, v)
	}
	b = append(b, `,"answers":{`...)
	first := true
	for _, q := range e.questions {
		a, ok := e.byID[q.ID]
		if !ok || answerEmpty(a) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, q.ID)
		b = append(b, ':')
		b = appendAnswerJSON(b, a)
	}
	b = append(b, '}')
	if len(r.Translations) > 0 {
		// Translations, labelled as such, apart from the answers.
		b = append(b, `,"translations":[`...)
		for i, t := range r.Translations {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"question_id":`...)
			b = appendJSONString(b, t.QuestionID)
			for _, f := range [][2]string{{"language", t.Language}, {"text", t.Text}, {"kind", string(t.Kind)},
				{"provider", t.Provider}, {"model", t.Model}, {"translated_at", t.TranslatedAt.UTC().Format(time.RFC3339Nano)}} {
				b = append(b, ',')
				b = appendJSONString(b, f[0])
				b = append(b, ':')
				b = appendJSONString(b, f[1])
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, "}\n"...)
	e.buf = b
	_, err := e.w.Write(b)
	return err
}

func answerEmpty(a domain.Answer) bool {
	return a.Text == "" && len(a.Options) == 0 && a.Scale == 0 && a.BlobID == ""
}

func appendAnswerJSON(b []byte, a domain.Answer) []byte {
	switch a.Kind {
	case domain.AnswerChoice, domain.AnswerRanking:
		b = append(b, '[')
		for i, o := range a.Options {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, o)
		}
		return append(b, ']')
	case domain.AnswerScale:
		return strconv.AppendInt(b, int64(a.Scale), 10)
	}
	return appendJSONString(b, answerCell(a))
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
