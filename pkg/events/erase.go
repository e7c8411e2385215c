package events

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrNotYetConsumed says that a message to erase has not been acknowledged
// by every consumer that receives it yet: erasing it now would take it from
// them. Retry later.
var ErrNotYetConsumed = errors.New("not yet acknowledged by every consumer")

// EraseSubmission deletes from the stream the messages about the submission
// id (SubmissionMessages), except its erasure events, and returns how many it
// deleted. Each is deleted securely: the server overwrites its bytes in the
// store files with random data, so that what an older version of an event
// carried does not linger in a block until compaction, as it would after a
// plain delete or a purge.
//
// A message is deleted only once every consumer of the stream that receives
// it (explicit acks, a filter that matches its subject) has acknowledged it
// (its ack floor is at or past the message), so that no consumer misses an
// event because of an erasure. When some consumer has not, the other
// messages are deleted and the error wraps ErrNotYetConsumed: a later call
// finishes the work. Deleting is idempotent.
func EraseSubmission(ctx context.Context, js jetstream.JetStream, id string) (int, error) {
	if id == "" || strings.ContainsAny(id, ".*> \t\r\n") {
		return 0, fmt.Errorf("erase submission %q from the stream: not a submission id", id)
	}
	stream, err := js.Stream(ctx, StreamName)
	if err != nil {
		return 0, fmt.Errorf("erase submission %s: stream %s: %w", id, StreamName, err)
	}
	consumers, err := ackingConsumers(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("erase submission %s: %w", id, err)
	}
	erasure := SubmissionErased + "."
	var erased int
	var waiting error
	for seq := uint64(1); ; {
		msg, err := stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(SubmissionMessages(id)))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return erased, fmt.Errorf("erase submission %s: find messages from %d: %w", id, seq, err)
		}
		seq = msg.Sequence + 1
		if strings.HasPrefix(msg.Subject, erasure) {
			continue // ids only; consumers act on it
		}
		if c := waitingFor(consumers, msg.Subject, msg.Sequence); c != "" {
			if waiting == nil {
				waiting = fmt.Errorf("erase submission %s: message %d waits for consumer %s: %w", id, msg.Sequence, c, ErrNotYetConsumed)
			}
			continue
		}
		if err := stream.SecureDeleteMsg(ctx, msg.Sequence); err != nil {
			// Gone meanwhile (age or size limits, another replica's erasure)
			// is as good as deleted.
			if _, gerr := stream.GetMsg(ctx, msg.Sequence); errors.Is(gerr, jetstream.ErrMsgNotFound) {
				continue
			}
			return erased, fmt.Errorf("erase submission %s: delete message %d: %w", id, msg.Sequence, err)
		}
		erased++
	}
	return erased, waiting
}

// ackingConsumer is what EraseSubmission needs of a consumer.
type ackingConsumer struct {
	name     string
	filters  []string
	ackFloor uint64
}

// ackingConsumers lists the consumers of stream that acknowledge messages;
// the others (ack none) lose nothing when a message goes.
func ackingConsumers(ctx context.Context, stream jetstream.Stream) ([]ackingConsumer, error) {
	lister := stream.ListConsumers(ctx)
	var out []ackingConsumer
	for info := range lister.Info() {
		if info.Config.AckPolicy == jetstream.AckNonePolicy {
			continue
		}
		filters := info.Config.FilterSubjects
		if info.Config.FilterSubject != "" {
			filters = append(filters, info.Config.FilterSubject)
		}
		out = append(out, ackingConsumer{name: info.Name, filters: filters, ackFloor: info.AckFloor.Stream})
	}
	if err := lister.Err(); err != nil {
		return nil, fmt.Errorf("list consumers of %s: %w", StreamName, err)
	}
	return out, nil
}

// waitingFor names a consumer that receives subject and has not acknowledged
// the message seq yet, or returns "".
func waitingFor(consumers []ackingConsumer, subject string, seq uint64) string {
	for _, c := range consumers {
		if c.ackFloor >= seq {
			continue
		}
		if len(c.filters) == 0 {
			return c.name // no filter: every subject of the stream
		}
		for _, f := range c.filters {
			if SubjectMatches(f, subject) {
				return c.name
			}
		}
	}
	return ""
}

// SubjectMatches reports whether subject (no wildcards) matches filter, in
// NATS terms: "*" stands for one token, a final ">" for one or more.
func SubjectMatches(filter, subject string) bool {
	ft, st := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, f := range ft {
		if f == ">" {
			return i == len(ft)-1 && len(st) > i
		}
		if i >= len(st) || (f != "*" && f != st[i]) {
			return false
		}
	}
	return len(ft) == len(st)
}

// TypeOfSubject is the event type of a message published on subject: the
// subject without the submission id that Subject adds to submission events.
func TypeOfSubject(subject string) string {
	if strings.HasPrefix(subject, submissionPrefix) && strings.Count(subject, ".") == 3 {
		return subject[:strings.LastIndexByte(subject, '.')]
	}
	return subject
}
