// Package mail is the platform's outgoing mail: a Message (plain text, an
// optional HTML alternative, and for notifications the List-Unsubscribe
// headers of RFC 2369 and RFC 8058) and a Sender that delivers it. SMTP is
// the Sender here, through github.com/wneessen/go-mail; the services that
// send mail (confirmation links and receipts today, digests later) depend
// on the Sender interface only.
package mail

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"
)

// Message is one mail to one recipient.
type Message struct {
	// To is the recipient's address.
	To string
	// Subject is the subject line; no line breaks.
	Subject string
	// Text is the plain-text body; always sent.
	Text string
	// HTML, when set, is sent as an alternative to Text.
	HTML string
	// Date is the Date header; zero means the time of sending.
	Date time.Time
	// MessageID is the Message-ID header without its angle brackets
	// (left@domain); empty means a new one from the Sender's domain.
	MessageID string
	// ListUnsubscribe are the URLs (https: or mailto:) of the
	// List-Unsubscribe header, for notifications the recipient subscribed
	// to. Transactional mail (a confirmation link) has none.
	ListUnsubscribe []string
	// OneClick adds "List-Unsubscribe-Post: List-Unsubscribe=One-Click"
	// (RFC 8058): a POST to the https URL of ListUnsubscribe unsubscribes
	// without a further step, and mail clients offer a button for it.
	OneClick bool
}

// Sender delivers messages. Send returns once the server took the message
// (or refused it); it gives up when ctx ends.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// ErrInvalid marks a message that no retry will send.
var ErrInvalid = errors.New("invalid message")

// Validate says what is wrong with m, naming the field.
func (m Message) Validate() error {
	if _, err := mail.ParseAddress(m.To); err != nil || strings.ContainsAny(m.To, "\r\n") {
		return fmt.Errorf("%w: to: not an address", ErrInvalid)
	}
	if strings.TrimSpace(m.Subject) == "" || strings.ContainsAny(m.Subject, "\r\n") {
		return fmt.Errorf("%w: subject: empty or spans lines", ErrInvalid)
	}
	if m.Text == "" {
		return fmt.Errorf("%w: text: empty", ErrInvalid)
	}
	if m.MessageID != "" && !validMessageID(m.MessageID) {
		return fmt.Errorf("%w: message_id: want left@domain without brackets or spaces", ErrInvalid)
	}
	https := false
	for i, raw := range m.ListUnsubscribe {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "mailto") || strings.ContainsAny(raw, "<>, \r\n") || !isASCII(raw) {
			return fmt.Errorf("%w: list_unsubscribe[%d]: want an https: or mailto: URL", ErrInvalid, i)
		}
		https = https || u.Scheme == "https"
	}
	if m.OneClick && !https {
		// RFC 8058 section 3.1: one-click needs an https URI to POST to.
		return fmt.Errorf("%w: one_click: needs an https URL in list_unsubscribe", ErrInvalid)
	}
	return nil
}

// NewMessageID returns a Message-ID (without angle brackets) unique to
// this message: 128 random bits at domain.
func NewMessageID(domain string) string {
	if domain == "" {
		domain = "localhost"
	}
	return rand.Text() + "@" + domain
}

// DomainOf returns the host of a public URL (https://consulta.example.org/
// gives consulta.example.org), or the domain of an address
// (consulta@example.org gives example.org); "" when there is none.
func DomainOf(urlOrAddress string) string {
	if u, err := url.Parse(urlOrAddress); err == nil && u.Host != "" {
		return u.Hostname()
	}
	if a, err := mail.ParseAddress(urlOrAddress); err == nil {
		if i := strings.LastIndexByte(a.Address, '@'); i >= 0 {
			return a.Address[i+1:]
		}
	}
	return ""
}

func validMessageID(id string) bool {
	left, right, ok := strings.Cut(id, "@")
	// isASCII also rules out spaces and line breaks.
	return ok && left != "" && right != "" && isASCII(id) && !strings.ContainsAny(id, "<>") &&
		!strings.Contains(right, "@")
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
