package gateway

import (
	"html/template"
	"net/http"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/consulta-platform/consulta/pkg/clientaddr"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
)

// confirmPage is what the link in a confirmation mail opens: a small page
// that works without JavaScript. Following the link confirms (GET, because
// mail clients open links; the token is single-use and signed, so a
// prefetch by a mail scanner confirms what the owner of the address
// received, which is the point of double opt-in). html/template escapes
// every value for where it goes, so a message that quotes the caller's input
// cannot become markup.
var confirmPage = template.Must(template.New("confirm").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.Title}}</title></head>
<body><main><h1>{{.Title}}</h1><p>{{.Message}}</p></main></body></html>
`))

func confirmSubmission(conn *grpc.ClientConn) http.HandlerFunc {
	client := submissionv1.NewSubmissionServiceClient(conn)
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		// An HTML page: its own styles at most, no scripts, no framing.
		w.Header().Set("Content-Security-Policy", htmlCSP)
		w.Header().Set("X-Frame-Options", "DENY")
		_, err := client.ConfirmSubmission(clientaddr.AppendToOutgoing(r.Context()), &submissionv1.ConfirmSubmissionRequest{Token: r.URL.Query().Get("token")})
		page := struct{ Title, Message string }{"Submission confirmed", "Thank you: your submission now counts in the consultation."}
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			page = struct{ Title, Message string }{"This link did not confirm a submission", status.Convert(err).Message()}
		}
		_ = confirmPage.Execute(w, page)
	}
}
