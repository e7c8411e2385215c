package gateway

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/consulta-platform/consulta/pkg/clientaddr"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
)

// openDataDownload serves GET /v1/consultations/{id}/open-data.csv and
// .ndjson as files. grpc-gateway would render the ExportOpenData stream as
// JSON lines of base64 chunks; this handler calls the same RPC over the
// submission connection, with the caller's token, and writes the chunks as
// they come. An error before the first chunk is answered like any gateway
// error; after it, the response is cut off so that the client sees a broken
// download, not a short file.
func openDataDownload(mux *runtime.ServeMux, conn *grpc.ClientConn, format submissionv1.OpenDataFormat, contentType, ext string) http.HandlerFunc {
	client := submissionv1.NewSubmissionServiceClient(conn)
	marshaler := &runtime.JSONPb{}
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var md []string
		if v := r.Header.Get("Authorization"); v != "" {
			md = append(md, "authorization", v)
		}
		ctx = clientaddr.AppendToOutgoing(metadata.AppendToOutgoingContext(ctx, md...))
		id := r.PathValue("id")
		stream, err := client.ExportOpenData(ctx, &submissionv1.ExportOpenDataRequest{ConsultationId: id, Format: format})
		if err != nil {
			runtime.HTTPError(ctx, mux, marshaler, w, r, err)
			return
		}
		first, err := stream.Recv()
		if err != nil && !errors.Is(err, io.EOF) {
			runtime.HTTPError(ctx, mux, marshaler, w, r, err)
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="consultation-%s.%s"`, id, ext))
		w.WriteHeader(http.StatusOK)
		for msg := first; msg != nil; {
			if _, err := w.Write(msg.GetChunk()); err != nil {
				return // the client went away
			}
			if msg, err = stream.Recv(); errors.Is(err, io.EOF) {
				return
			} else if err != nil {
				panic(http.ErrAbortHandler)
			}
		}
	}
}
