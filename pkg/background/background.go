// Package background runs a process's background work in stages that stop
// one after another. A service lists its parts (event consumers, a
// scheduler, a job server, an outbox relay...), each with the stage it
// belongs to; the process starts them all and, when it stops, cancels the
// stages in order and waits for each to finish before cancelling the next:
// consumers and the loops that change state first, so that nothing new
// reaches the job queue or the outbox; then the job server, whose running
// jobs finish; then the outbox relays, which publish what is pending.
package background

import (
	"context"
	"errors"
	"sync"
)

// Stage says when a part stops; stages stop in the order of their values.
type Stage int

const (
	// Consumers are event consumers and the loops that change state
	// (schedulers, sweepers, the mailer). They stop first: each finishes
	// and acknowledges the event or step in hand.
	Consumers Stage = iota
	// Jobs is the job server: it stops once nothing enqueues any more, and
	// lets running jobs finish.
	Jobs
	// Relays are outbox relays: they stop last, after a final flush of
	// what the stages before them wrote.
	Relays

	stages
)

// Part is one piece of background work.
type Part struct {
	Name  string
	Stage Stage
	// Run works until ctx is cancelled and then returns, nil on a normal
	// stop (context.Canceled is taken as nil too).
	Run func(ctx context.Context) error
}

// Group is running parts.
type Group struct {
	cancels [stages]context.CancelFunc
	waits   [stages]*sync.WaitGroup
}

// Start runs every part in a goroutine of its own. Each stage gets a
// context that carries ctx's values but not its cancellation: only Stop
// ends them. fail is called, from the part's goroutine, with every error a
// part returns (but context.Canceled); it must be safe for concurrent use.
func Start(ctx context.Context, parts []Part, fail func(name string, err error)) *Group {
	g := &Group{}
	ctxs := [stages]context.Context{}
	for s := range stages {
		ctxs[s], g.cancels[s] = context.WithCancel(context.WithoutCancel(ctx))
		g.waits[s] = &sync.WaitGroup{}
	}
	for _, p := range parts {
		s := min(max(p.Stage, 0), stages-1)
		g.waits[s].Go(func() {
			if err := p.Run(ctxs[s]); err != nil && !errors.Is(err, context.Canceled) {
				fail(p.Name, err)
			}
		})
	}
	return g
}

// Stop cancels the stages in order, each once every part of the one before
// has returned, and returns when the last has.
func (g *Group) Stop() {
	for s := range stages {
		g.cancels[s]()
		g.waits[s].Wait()
	}
}
