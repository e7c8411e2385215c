// Package natsacl says what each Consulta service may do on NATS: which
// subjects it may publish and subscribe to. The NATS server enforces these
// lists per user (one user per service in deploy/nats/nats.conf, one user
// with their union for `consulta dev`), so that a service, or whoever holds
// its credentials, cannot publish another service's events: only the
// consultation service's user can publish consulta.consultation.updated,
// which the submission service trusts to decide what may be submitted.
//
// Besides its own subjects, a service needs part of the JetStream API:
// stream and consumer information, its pull consumers, acknowledgements, and
// the replies that come back on _INBOX. Only the consultation service may
// create or update the stream: a stream's configuration can rewrite the
// subjects of the messages it stores (subject transforms, republish), which
// would let any user that may update it turn its own messages into another
// service's events. Nobody may delete or purge the stream; only the
// submission service may delete single messages (the erasure of a
// submission's messages from the stream).
package natsacl

import (
	"slices"

	"github.com/nats-io/nats-server/v2/server"
)

// Service names, as `consulta serve --services` and the users of
// deploy/nats/nats.conf spell them.
const (
	Consultation = "consultation"
	Submission   = "submission"
	Summary      = "summary"
	Worker       = "worker"
)

// Services are the services that connect to NATS.
var Services = []string{Consultation, Submission, Summary, Worker}

// stream is the JetStream stream every service uses (events.StreamName; not
// imported, so that this package depends on nothing of Consulta's).
const stream = "CONSULTA"

// Permissions are the subjects a user may publish and subscribe to.
type Permissions struct {
	Publish   []string
	Subscribe []string
}

// every service: read the stream's configuration, run pull consumers,
// acknowledge, and receive replies.
var common = Permissions{
	Publish: []string{
		"$JS.API.INFO",
		"$JS.API.STREAM.INFO." + stream,
		"$JS.API.CONSUMER.>",
		"$JS.ACK." + stream + ".>",
	},
	Subscribe: []string{"_INBOX.>"},
}

var own = map[string]Permissions{
	Consultation: {Publish: []string{
		"consulta.consultation.>", "consulta.dialogue.>", "consulta.reference.>",
		"$JS.API.STREAM.CREATE." + stream, "$JS.API.STREAM.UPDATE." + stream,
	}},
	Submission: {Publish: []string{
		"consulta.submission.>",
		// events.EraseSubmission finds a submission's messages and deletes them.
		"$JS.API.STREAM.MSG.GET." + stream, "$JS.API.STREAM.MSG.DELETE." + stream,
	}},
	Summary: {},
	// The translation job publishes its result itself (no outbox: the worker
	// has no database).
	Worker: {Publish: []string{"consulta.consultation.translated"}},
}

// Known reports whether service is one of Services.
func Known(service string) bool { return slices.Contains(Services, service) }

// For returns what a user running services may do: the union of their
// permissions, sorted. Unknown names add nothing.
func For(services ...string) Permissions {
	p := Permissions{
		Publish:   slices.Clone(common.Publish),
		Subscribe: slices.Clone(common.Subscribe),
	}
	for _, s := range services {
		p.Publish = append(p.Publish, own[s].Publish...)
		p.Subscribe = append(p.Subscribe, own[s].Subscribe...)
	}
	slices.Sort(p.Publish)
	slices.Sort(p.Subscribe)
	p.Publish = slices.Compact(p.Publish)
	p.Subscribe = slices.Compact(p.Subscribe)
	return p
}

// All is what a process running every service may do (monolithic mode).
func All() Permissions { return For(Services...) }

// Server converts p for an in-process nats-server (server.User.Permissions).
func (p Permissions) Server() *server.Permissions {
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: slices.Clone(p.Publish)},
		Subscribe: &server.SubjectPermission{Allow: slices.Clone(p.Subscribe)},
	}
}
