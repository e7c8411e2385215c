package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
)

const consultationUsage = `Usage:
  consulta consultation create -f consultation.yaml    draft a consultation from a file
  consulta consultation update -f consultation.yaml --id ID [--version N]
                                                       replace its editable fields from a file
  consulta consultation export ID                      print it as a file create and update read

The file holds the fields of CreateConsultationRequest (see docs/openapi) in
YAML, with their proto names: dialogue_id, title, languages, questions, ...
`

// runConsultation keeps consultations in files, so that admins can hold them
// in version control.
func runConsultation(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, consultationUsage)
		return errors.New("consultation: no subcommand")
	}
	fs := flag.NewFlagSet("consultation "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	file := fs.String("f", "", "YAML file (- for standard input)")
	id := fs.String("id", "", "consultation id (update)")
	version := fs.Int64("version", 0, "version the file was exported at (update; 0 skips the check)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	conn, ctx, err := cf.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	client := consultationv1.NewConsultationServiceClient(conn)

	switch args[0] {
	case "create":
		req := &consultationv1.CreateConsultationRequest{}
		if err := readYAML(*file, req); err != nil {
			return err
		}
		resp, err := client.CreateConsultation(ctx, req)
		if err != nil {
			return err
		}
		return writeYAML(stdout, resp.GetConsultation())
	case "update":
		if *id == "" {
			return errors.New("consultation update: --id is required")
		}
		req := &consultationv1.UpdateConsultationRequest{}
		if err := readYAML(*file, req); err != nil {
			return err
		}
		req.Id = *id
		if req.Version = *version; req.Version == 0 {
			cur, err := client.GetConsultation(ctx, &consultationv1.GetConsultationRequest{Id: *id})
			if err != nil {
				return err
			}
			req.Version = cur.GetConsultation().GetVersion()
		}
		resp, err := client.UpdateConsultation(ctx, req)
		if err != nil {
			return err
		}
		return writeYAML(stdout, resp.GetConsultation())
	case "export":
		if fs.NArg() != 1 {
			return errors.New("consultation export: give one consultation id")
		}
		resp, err := client.GetConsultation(ctx, &consultationv1.GetConsultationRequest{Id: fs.Arg(0)})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "# consultation %s, version %d (%s)\n", resp.GetConsultation().GetId(),
			resp.GetConsultation().GetVersion(), resp.GetConsultation().GetStatus())
		return writeYAML(stdout, ExportRequest(resp.GetConsultation()))
	}
	fmt.Fprint(stderr, consultationUsage)
	return fmt.Errorf("consultation: unknown subcommand %q", args[0])
}

// ExportRequest is the create request that describes c: what a file holds.
func ExportRequest(c *consultationv1.Consultation) *consultationv1.CreateConsultationRequest {
	return &consultationv1.CreateConsultationRequest{
		DialogueId:          c.GetDialogueId(),
		Title:               c.GetTitle(),
		Description:         c.GetDescription(),
		Languages:           c.GetLanguages(),
		Questions:           c.GetQuestions(),
		OpensAt:             c.GetOpensAt(),
		ClosesAt:            c.GetClosesAt(),
		BackgroundDocuments: c.GetBackgroundDocuments(),
		Audience:            c.GetAudience(),
		DefaultPublication:  c.GetDefaultPublication(),

		RequireEmailConfirmation: c.GetRequireEmailConfirmation(),
	}
}

// readYAML reads a YAML file into m through its JSON mapping, so that the
// file uses the same names and formats as the REST API. Unknown fields are
// ignored: a file exported for create also serves update.
func readYAML(path string, m proto.Message) error {
	var data []byte
	var err error
	switch path {
	case "":
		return errors.New("-f is required")
	case "-":
		data, err = io.ReadAll(os.Stdin)
	default:
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	js, err := jsonOf(doc)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(js, m); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// writeYAML prints m as block YAML with proto field names, keeping the
// field order of the message.
func writeYAML(w io.Writer, m proto.Message) error {
	js, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return err
	}
	// JSON is YAML: decoding into a node keeps the key order.
	var node yaml.Node
	if err := yaml.Unmarshal(js, &node); err != nil {
		return err
	}
	blockStyle(&node)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&node); err != nil {
		return err
	}
	return enc.Close()
}

func blockStyle(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style = 0
	}
	if n.Kind == yaml.ScalarNode && n.Style == yaml.DoubleQuotedStyle {
		n.Style = 0 // the encoder quotes where YAML needs it
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// jsonOf encodes a decoded YAML document as JSON; YAML timestamps become
// RFC 3339 strings, as protojson wants them.
func jsonOf(doc any) ([]byte, error) {
	return json.Marshal(normalise(doc))
}

func normalise(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalise(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalise(e)
		}
		return x
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return v
}
