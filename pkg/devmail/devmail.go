// Package devmail is the mail catcher of `consulta dev`: an SMTP server on
// a loopback port that keeps every message it receives as an .eml file in a
// directory, and a web page that lists them, newest first, each readable as
// text. Nothing it receives goes further. It is for development only: it
// accepts mail from anyone who reaches it, so it listens on loopback only.
package devmail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// maxMessageBytes is the largest message the catcher takes.
const maxMessageBytes = 10 << 20

// Catcher is a running mail catcher.
type Catcher struct {
	dir   string
	log   *slog.Logger
	smtp  *smtp.Server
	smtpL net.Listener
	http  *http.Server
	httpL net.Listener
	seq   atomic.Uint64
	wg    sync.WaitGroup
}

// Options says where the catcher listens and keeps mail.
type Options struct {
	// Dir is where .eml files go (created when missing).
	Dir string
	// SMTPAddr and HTTPAddr are loopback addresses; port 0 picks a free one.
	SMTPAddr, HTTPAddr string
	Log                *slog.Logger
}

// Start listens and serves until Close.
func Start(o Options) (*Catcher, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("devmail: directory: %w", err)
	}
	c := &Catcher{dir: o.Dir, log: o.Log}
	var err error
	if c.smtpL, err = listenLoopback(o.SMTPAddr); err != nil {
		return nil, fmt.Errorf("devmail: SMTP: %w", err)
	}
	if c.httpL, err = listenLoopback(o.HTTPAddr); err != nil {
		c.smtpL.Close()
		return nil, fmt.Errorf("devmail: HTTP: %w", err)
	}
	c.smtp = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{c: c}, nil }))
	c.smtp.Domain = "localhost"
	c.smtp.MaxMessageBytes = maxMessageBytes
	c.smtp.MaxRecipients = 100
	c.smtp.ReadTimeout = time.Minute
	c.smtp.WriteTimeout = time.Minute
	c.http = &http.Server{Handler: c.Handler(), ReadHeaderTimeout: 10 * time.Second}
	c.wg.Add(2)
	go func() {
		defer c.wg.Done()
		if err := c.smtp.Serve(c.smtpL); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			c.log.Error("devmail: SMTP server", "err", err)
		}
	}()
	go func() {
		defer c.wg.Done()
		if err := c.http.Serve(c.httpL); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.log.Error("devmail: web page", "err", err)
		}
	}()
	return c, nil
}

// listenLoopback listens on addr, which must be a loopback address: the
// catcher takes mail from anyone and shows it to anyone.
func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("address %s: only a loopback address", addr)
	}
	return net.Listen("tcp", addr)
}

// SMTPURL is the URL the platform's mailer sends to.
func (c *Catcher) SMTPURL() string {
	return "smtp://" + c.smtpL.Addr().String() + "?starttls=none"
}

// PageURL is the address of the list of messages.
func (c *Catcher) PageURL() string { return "http://" + c.httpL.Addr().String() + "/" }

// Dir is where the .eml files are.
func (c *Catcher) Dir() string { return c.dir }

// Close stops both servers.
func (c *Catcher) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := errors.Join(c.smtp.Close(), c.http.Shutdown(ctx))
	c.wg.Wait()
	return err
}

// session is one SMTP conversation.
type session struct {
	c    *Catcher
	from string
	to   []string
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

// Data stores the message as it came, with Return-Path and Delivered-To
// (the envelope, which the headers need not show) in front.
func (s *session) Data(r io.Reader) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Return-Path: <%s>\r\n", s.from)
	for _, to := range s.to {
		fmt.Fprintf(&b, "Delivered-To: %s\r\n", to)
	}
	if _, err := io.Copy(&b, r); err != nil {
		return err
	}
	return s.c.store(b.Bytes())
}

func (s *session) Reset() { s.from, s.to = "", nil }

func (s *session) Logout() error { return nil }

// store writes one message: the name sorts by arrival (time, then a
// counter for messages within the same nanosecond's resolution of the
// clock), and the file appears whole (written aside, then renamed).
func (c *Catcher) store(msg []byte) error {
	name := fmt.Sprintf("%s-%06d.eml", time.Now().UTC().Format("20060102T150405.000000000Z"), c.seq.Add(1))
	tmp := filepath.Join(c.dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, msg, 0o600); err != nil {
		return fmt.Errorf("devmail: store: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, name)); err != nil {
		return fmt.Errorf("devmail: store: %w", err)
	}
	c.log.Info("devmail: message caught", "file", name)
	return nil
}

// isMessageName says whether name is a stored message (and not a path).
func isMessageName(name string) bool {
	return strings.HasSuffix(name, ".eml") && !strings.HasPrefix(name, ".") && filepath.Base(name) == name &&
		!strings.ContainsAny(name, `/\`)
}
