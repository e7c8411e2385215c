package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	// The APIs the command can call, registered by their generated code.
	_ "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	_ "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	_ "github.com/consulta-platform/consulta/pkg/gen/consulta/summary/v1"
)

const apiUsage = `Usage:
  consulta api SERVICE.METHOD [JSON]     call any RPC, e.g.
  consulta api ConsultationService.ScheduleConsultation '{"id": "..."}'
  consulta api list                       list the services and methods

The request is the method's message in JSON (proto or JSON field names);
the answer is printed as JSON.
`

// runAPI calls any RPC of Consulta's APIs: every step of the workflow is
// available from the command line without a command for each.
func runAPI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fmt.Fprint(stderr, apiUsage)
		return errors.New("api: name a method")
	}
	if fs.Arg(0) == "list" {
		for _, m := range allMethods() {
			fmt.Fprintf(stdout, "%s.%s\n", m.Parent().Name(), m.Name())
		}
		return nil
	}
	method, err := findMethod(fs.Arg(0))
	if err != nil {
		return err
	}
	reqType, err := protoregistry.GlobalTypes.FindMessageByName(method.Input().FullName())
	if err != nil {
		return err
	}
	respType, err := protoregistry.GlobalTypes.FindMessageByName(method.Output().FullName())
	if err != nil {
		return err
	}
	req, resp := reqType.New().Interface(), respType.New().Interface()
	if body := fs.Arg(1); body != "" {
		if err := protojson.Unmarshal([]byte(body), req); err != nil {
			return fmt.Errorf("request %s: %w", method.Input().Name(), err)
		}
	}
	conn, ctx, err := cf.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	full := fmt.Sprintf("/%s/%s", method.Parent().FullName(), method.Name())
	if err := conn.Invoke(ctx, full, req, resp); err != nil {
		return err
	}
	out, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(resp)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, string(out))
	return err
}

func allMethods() []protoreflect.MethodDescriptor {
	var out []protoreflect.MethodDescriptor
	protoregistry.GlobalFiles.RangeFiles(func(f protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(f.Package()), "consulta.") {
			return true
		}
		for i := range f.Services().Len() {
			s := f.Services().Get(i)
			for j := range s.Methods().Len() {
				out = append(out, s.Methods().Get(j))
			}
		}
		return true
	})
	return out
}

// findMethod resolves "Service.Method", with or without the package.
func findMethod(name string) (protoreflect.MethodDescriptor, error) {
	for _, m := range allMethods() {
		short := string(m.Parent().Name()) + "." + string(m.Name())
		full := string(m.Parent().FullName()) + "." + string(m.Name())
		if name == short || name == full {
			return m, nil
		}
	}
	return nil, fmt.Errorf("api: no method %q (consulta api list shows them)", name)
}
