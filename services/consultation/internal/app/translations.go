package app

import (
	"context"
	"log/slog"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/consumer"
	"github.com/consulta-platform/consulta/pkg/events"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
	"github.com/consulta-platform/consulta/pkg/geo"
	"github.com/consulta-platform/consulta/services/consultation/internal/domain"
	"github.com/consulta-platform/consulta/services/consultation/internal/store"
)

// ApplyMachineTranslation is the consumer of the worker's translation events.
// It runs inside the consumer's inbox transaction and stores each machine
// text whose source is still the one translated. It skips texts edited or
// removed since (stale), languages the consultation no longer offers, and
// texts a co-lead reviewed, which a machine text never replaces. It emits one
// consulta.consultation.updated event when something changed, and nothing for
// a consultation this service does not know.
func (a *App) ApplyMachineTranslation(ctx context.Context, tx pgx.Tx, env *eventsv1.Envelope) error {
	if env.GetType() != events.ConsultationTranslated {
		return nil
	}
	ev := &consultationv1.ConsultationTranslatedEvent{}
	if err := events.Payload(env, ev); err != nil {
		return consumer.Permanent(err)
	}
	lang, err := geo.Language(ev.GetLanguage())
	if err != nil {
		return consumer.Permanent(apperr.Invalid("language", "%v", err))
	}
	var applied, stale int
	_, err = store.UpdateConsultationTx(ctx, tx, ev.GetConsultationId(), func(_ store.Reads, c *domain.Consultation) ([]*eventsv1.Envelope, error) {
		if !slices.Contains(c.Languages, lang) || c.Status == domain.StatusArchived {
			return nil, nil
		}
		var fresh []domain.Translation
		current := c.TextPaths()
		for _, tt := range ev.GetTexts() {
			cur, ok := current[tt.GetPath()]
			if !ok || cur.Source != tt.GetSourceLanguage() || cur.Texts[cur.Source] != tt.GetSourceText() || cur.Source == lang {
				stale++ // edited or removed since it was translated
				continue
			}
			fresh = append(fresh, domain.Translation{Path: tt.GetPath(), Text: tt.GetText()})
		}
		now := a.clock()
		var err error
		if applied, err = c.SetTranslations(lang, domain.OriginMachine, fresh, now); err != nil || applied == 0 {
			return nil, err
		}
		e, err := consultationEvent(events.ConsultationUpdated, *c, now)
		return []*eventsv1.Envelope{e}, err
	})
	if apperr.IsNotFound(err) {
		// A translation of a consultation this service does not know.
		return nil
	}
	if err != nil {
		return err
	}
	slog.DebugContext(ctx, "machine translation applied", "consultation_id", ev.GetConsultationId(),
		"based_on_version", ev.GetBasedOnVersion(), "language", lang, "applied", applied, "stale", stale)
	return nil
}
