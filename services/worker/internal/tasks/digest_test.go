package tasks_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	"github.com/consulta-platform/consulta/services/worker/internal/tasks"
)

// dialogueAt answers GetDialogue with one dialogue, as the consultation
// service would after a change that the digest has not heard of.
type dialogueAt struct{ d *consultationv1.Dialogue }

func (r dialogueAt) GetDialogue(context.Context, *consultationv1.GetDialogueRequest, ...grpc.CallOption) (*consultationv1.GetDialogueResponse, error) {
	return &consultationv1.GetDialogueResponse{Dialogue: r.d}, nil
}

// A digest whose dialogue has since moved or been cancelled is dropped when
// it falls due (the reconciler may re-create one while the change is on its
// way to the worker); one whose dialogue still starts when it says goes out.
func TestStaleDigestIsDropped(t *testing.T) {
	t.Parallel()
	start := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	job, err := tasks.NewSendDigest(tasks.SendDigest{DialogueID: "d1", StartsAt: start, Lead: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	planned := consultationv1.DialogueStatus_DIALOGUE_STATUS_PLANNED
	cases := []struct {
		name string
		d    *consultationv1.Dialogue
		want string
	}{
		{"unchanged", &consultationv1.Dialogue{Id: "d1", Status: planned, StartsAt: timestamppb.New(start)}, "digest due"},
		{"moved", &consultationv1.Dialogue{Id: "d1", Status: planned, StartsAt: timestamppb.New(start.Add(time.Hour))}, "digest dropped"},
		{"cancelled", &consultationv1.Dialogue{Id: "d1", Status: consultationv1.DialogueStatus_DIALOGUE_STATUS_CANCELLED,
			StartsAt: timestamppb.New(start)}, "digest dropped"},
	}
	for _, tc := range cases {
		var logs bytes.Buffer
		h := tasks.Handlers{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Dialogues: dialogueAt{tc.d}}
		if err := h.Mux().ProcessTask(t.Context(), job.Task); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !strings.Contains(logs.String(), tc.want) {
			t.Errorf("%s: logged %q, want %q", tc.name, logs.String(), tc.want)
		}
	}
}
