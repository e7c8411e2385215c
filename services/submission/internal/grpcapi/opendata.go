package grpcapi

import (
	"bytes"

	"github.com/consulta-platform/consulta/pkg/apperr"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/services/submission/internal/app"
)

var openDataFormats = map[submissionv1.OpenDataFormat]app.OpenDataFormat{
	submissionv1.OpenDataFormat_OPEN_DATA_FORMAT_CSV:    app.OpenDataCSV,
	submissionv1.OpenDataFormat_OPEN_DATA_FORMAT_NDJSON: app.OpenDataNDJSON,
}

// ExportOpenData implements the RPC: the export is written in chunks of
// about app.OpenDataChunkSize bytes, one message each; concatenated, they
// are the file. gRPC flow control paces the database query to the reader.
func (s *Server) ExportOpenData(r *submissionv1.ExportOpenDataRequest, stream submissionv1.SubmissionService_ExportOpenDataServer) error {
	format, ok := openDataFormats[r.GetFormat()]
	if !ok {
		return apperr.Invalid("format", "csv or ndjson")
	}
	return s.app.ExportOpenData(stream.Context(), r.GetConsultationId(), format, chunkWriter{stream})
}

// chunkWriter sends every write as one message. The caller buffers, so
// writes are chunks already; each is copied because the caller reuses its
// buffer and the stream may keep the message after Send returns.
type chunkWriter struct {
	stream submissionv1.SubmissionService_ExportOpenDataServer
}

func (w chunkWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := w.stream.Send(&submissionv1.ExportOpenDataResponse{Chunk: bytes.Clone(p)}); err != nil {
		return 0, err
	}
	return len(p), nil
}
