package platform

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
)

// NATSAuth says how a process proves who it is to the NATS server and how it
// checks the server. At most one kind of credentials: a user and password
// (also accepted in the URL, which then wins), an nkey seed file, or a creds
// file (a user JWT with its seed, for servers run with operator/account
// JWTs). Everything goes through nats.go's own options.
type NATSAuth struct {
	User     string
	Password string
	// NKeyFile is a file holding a user nkey seed ("SU...").
	NKeyFile string
	// CredsFile is a .creds file: a user JWT and its nkey seed.
	CredsFile string

	// CAFile makes the connection TLS, verifying the server against these
	// CAs (PEM) instead of the system's.
	CAFile string
	// CertFile and KeyFile are a client certificate, for servers that verify
	// clients (verify: true in the server's tls block).
	CertFile string
	KeyFile  string
}

// options turns a into nats.go options; a bad combination or a file that
// cannot be read is an error naming the setting.
func (a NATSAuth) options() ([]nats.Option, error) {
	var opts []nats.Option
	kinds := 0
	if a.User != "" || a.Password != "" {
		if a.User == "" || a.Password == "" {
			return nil, errors.New("NATS credentials: CONSULTA_NATS_USER and CONSULTA_NATS_PASSWORD go together")
		}
		kinds++
		opts = append(opts, nats.UserInfo(a.User, a.Password))
	}
	if a.NKeyFile != "" {
		kinds++
		opt, err := nats.NkeyOptionFromSeed(a.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("NATS credentials: CONSULTA_NATS_NKEY_FILE %s: %w", a.NKeyFile, err)
		}
		opts = append(opts, opt)
	}
	if a.CredsFile != "" {
		kinds++
		// UserCredentials reads the file only when connecting: check now,
		// for an error that names the setting.
		if _, err := os.Stat(a.CredsFile); err != nil {
			return nil, fmt.Errorf("NATS credentials: CONSULTA_NATS_CREDS_FILE: %w", err)
		}
		opts = append(opts, nats.UserCredentials(a.CredsFile))
	}
	if kinds > 1 {
		return nil, errors.New("NATS credentials: set one of CONSULTA_NATS_USER/PASSWORD, CONSULTA_NATS_NKEY_FILE and CONSULTA_NATS_CREDS_FILE")
	}
	if a.CAFile != "" {
		if _, err := os.Stat(a.CAFile); err != nil {
			return nil, fmt.Errorf("NATS TLS: CONSULTA_NATS_CA_FILE: %w", err)
		}
		opts = append(opts, nats.RootCAs(a.CAFile))
	}
	if (a.CertFile == "") != (a.KeyFile == "") {
		return nil, errors.New("NATS TLS: CONSULTA_NATS_CERT_FILE and CONSULTA_NATS_KEY_FILE go together")
	}
	if a.CertFile != "" {
		for _, f := range []string{a.CertFile, a.KeyFile} {
			if _, err := os.Stat(f); err != nil {
				return nil, fmt.Errorf("NATS TLS: client certificate: %w", err)
			}
		}
		opts = append(opts, nats.ClientCert(a.CertFile, a.KeyFile))
	}
	return opts, nil
}

// hasCredentials reports whether a names any credentials.
func (a NATSAuth) hasCredentials() bool {
	return a.User != "" || a.NKeyFile != "" || a.CredsFile != "" || a.CertFile != ""
}

// urlHasUser reports whether a NATS URL (or the first of a comma-separated
// list) carries a user.
func urlHasUser(u string) bool {
	first, _, _ := strings.Cut(u, ",")
	parsed, err := url.Parse(strings.TrimSpace(first))
	return err == nil && parsed.User != nil
}

// redactURL hides a password in a NATS URL (or a list of them) before it
// goes into an error or a log line.
func redactURL(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return "(unparseable URL)"
	}
	return parsed.Redacted()
}
