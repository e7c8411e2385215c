package devenv

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"golang.org/x/crypto/bcrypt"
)

// NATSOptions configures NATS.
type NATSOptions struct {
	// Host is the address to listen on. Default "127.0.0.1".
	Host string
	// Port is the client port: -1 picks a free one, 0 means 4222 (the NATS
	// default).
	Port int
	// StoreDir is where JetStream keeps its files. Required: a shared default
	// would mix the streams of unrelated servers.
	StoreDir string
	// ServerName names the server. Default "consulta-dev".
	ServerName string
	// ReadyTimeout bounds the wait for the server to accept connections.
	// Default 10s.
	ReadyTimeout time.Duration
	// Log receives the server's notices (Info), warnings and errors. Nil
	// discards them.
	Log *slog.Logger
	// Users, when set, are the only clients the server accepts: a
	// connection without one of these names and passwords (random ones:
	// they are stored as bcrypt hashes of the lowest cost) is refused, and
	// each user may publish and subscribe only as its Permissions say
	// (nil: everything).
	Users []NATSUser
}

// NATSUser is a user of an in-process server.
type NATSUser struct {
	Name, Password string
	Permissions    *server.Permissions
}

// NATS starts an in-process nats-server with JetStream (file storage in
// opts.StoreDir) and returns it once it accepts connections. An in-process
// server is the real server, not a fake: the same code as the nats-server
// binary. The caller stops it with Shutdown and WaitForShutdown.
func NATS(opts NATSOptions) (*server.Server, error) {
	if opts.StoreDir == "" {
		return nil, errors.New("nats: NATSOptions.StoreDir is required")
	}
	sopts := &server.Options{
		ServerName: cmp.Or(opts.ServerName, "consulta-dev"),
		Host:       cmp.Or(opts.Host, "127.0.0.1"),
		Port:       opts.Port,
		JetStream:  true,
		StoreDir:   opts.StoreDir,
		NoSigs:     true, // signals belong to the process that embeds us
		NoLog:      true, // replaced by SetLogger below
	}
	for _, u := range opts.Users {
		if u.Name == "" || u.Password == "" {
			return nil, errors.New("nats: every NATSOptions.Users entry needs a name and a password")
		}
		// The server keeps a bcrypt hash, not the password (and does not
		// warn about plaintext passwords). The minimum cost keeps logins
		// fast: the passwords given here are random, not guessable words.
		hash, err := bcrypt.GenerateFromPassword([]byte(u.Password), bcrypt.MinCost)
		if err != nil {
			return nil, fmt.Errorf("nats: user %s: %w", u.Name, err)
		}
		sopts.Users = append(sopts.Users, &server.User{Username: u.Name, Password: string(hash), Permissions: u.Permissions})
	}
	ns, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("nats: %w", err)
	}
	logger := &natsLogger{log: orDiscard(opts.Log)}
	ns.SetLogger(logger, false, false)
	ns.Start()
	timeout := cmp.Or(opts.ReadyTimeout, 10*time.Second)
	if !ns.ReadyForConnections(timeout) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("nats: server not ready after %s%s", timeout, logger.fatalSuffix())
	}
	if !ns.JetStreamEnabled() {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("nats: JetStream did not start%s", logger.fatalSuffix())
	}
	return ns, nil
}

// NATSURL returns a NATS URL: the environment variable NATS_URL when set,
// else the client URL of an in-process server started by NATS(opts). stop
// shuts that server down; otherwise it does nothing. It may be called more
// than once.
func NATSURL(opts NATSOptions) (url string, stop func(), err error) {
	log := orDiscard(opts.Log)
	if u := os.Getenv("NATS_URL"); u != "" {
		log.Info("nats: using NATS_URL")
		return u, func() {}, nil
	}
	ns, err := NATS(opts)
	if err != nil {
		return "", nil, err
	}
	log.Info("nats: in-process server started", "url", ns.ClientURL(), "store_dir", opts.StoreDir)
	return ns.ClientURL(), sync.OnceFunc(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	}), nil
}

// natsLogger passes the server's log to slog and remembers fatal errors,
// which the server reports instead of returning them from Start.
type natsLogger struct {
	log   *slog.Logger
	mu    sync.Mutex
	fatal []string
}

func (l *natsLogger) Noticef(format string, v ...any) {
	l.log.Info(fmt.Sprintf(format, v...), "component", "nats-server")
}

func (l *natsLogger) Warnf(format string, v ...any) {
	l.log.Warn(fmt.Sprintf(format, v...), "component", "nats-server")
}

func (l *natsLogger) Errorf(format string, v ...any) {
	l.log.Error(fmt.Sprintf(format, v...), "component", "nats-server")
}

func (l *natsLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.mu.Lock()
	l.fatal = append(l.fatal, msg)
	l.mu.Unlock()
	l.log.Error(msg, "component", "nats-server")
}

func (l *natsLogger) Debugf(string, ...any) {}

func (l *natsLogger) Tracef(string, ...any) {}

func (l *natsLogger) fatalSuffix() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.fatal) == 0 {
		return ""
	}
	return ": " + l.fatal[len(l.fatal)-1]
}
