package devenv

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// LocalRedisAddr is where Redis looks for a server already running on this
// machine.
const LocalRedisAddr = "127.0.0.1:6379"

// Redis returns a Redis URL (redis://host:port/db), in this order:
//
//  1. the environment variable REDIS_URL, when set;
//  2. redis://127.0.0.1:6379/0 when a server there answers PING within a
//     second;
//  3. a throwaway redis-server started on a free port of 127.0.0.1, without
//     persistence (see StartRedis).
//
// Steps 1 and 2 are skipped when the environment has
// CONSULTA_REDIS_THROWAWAY=1. When redis-server is needed but not installed,
// the error is a *MissingError.
//
// stop stops a throwaway server and removes its directory; otherwise it does
// nothing. It may be called more than once.
func Redis(ctx context.Context, log *slog.Logger) (url string, stop func(), err error) {
	log = orDiscard(log)
	if !envTrue("CONSULTA_REDIS_THROWAWAY") {
		if u := os.Getenv("REDIS_URL"); u != "" {
			log.Info("redis: using REDIS_URL")
			return u, func() {}, nil
		}
		err := pingRedis(ctx, LocalRedisAddr, time.Second)
		if err == nil {
			log.Info("redis: using the local server", "addr", LocalRedisAddr)
			return "redis://" + LocalRedisAddr + "/0", func() {}, nil
		}
		log.Info("redis: no usable local server, starting a throwaway one", "addr", LocalRedisAddr, "err", err)
	}
	return StartRedis(ctx, log)
}

// StartRedis starts a throwaway redis-server, whatever the environment says:
// `redis-server --port N --bind 127.0.0.1 --save "" --appendonly no` in a
// temporary directory, and returns its URL once it answers PING. stop stops
// the server and removes the directory; it may be called more than once.
func StartRedis(ctx context.Context, log *slog.Logger) (url string, stop func(), err error) {
	s, err := startRedis(ctx, orDiscard(log))
	if err != nil {
		return "", nil, err
	}
	return s.url, sync.OnceFunc(s.stop), nil
}

// redisServer is a throwaway redis-server.
type redisServer struct {
	log  *slog.Logger
	dir  string
	url  string
	proc *child
}

func (s *redisServer) stop() {
	s.proc.stop(syscall.SIGTERM, 10*time.Second)
	if err := os.RemoveAll(s.dir); err != nil {
		s.log.Warn("redis: remove throwaway server", "dir", s.dir, "err", err)
		return
	}
	s.log.Info("redis: throwaway server stopped", "dir", s.dir)
}

var errNoRedisServer = &MissingError{
	What: "redis-server",
	Install: "install it with `apt-get install redis-server` (Debian/Ubuntu), `dnf install redis` (Fedora) " +
		"or `brew install redis` (macOS), or set REDIS_URL to a server you have",
}

func findRedisServer() (string, error) {
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	// PATH may lack sbin, or a Homebrew prefix.
	for _, p := range []string{"/usr/bin/redis-server", "/usr/sbin/redis-server", "/usr/local/bin/redis-server", "/opt/homebrew/bin/redis-server"} {
		if isExecutable(p) {
			return p, nil
		}
	}
	return "", errNoRedisServer
}

func startRedis(ctx context.Context, log *slog.Logger) (_ *redisServer, err error) {
	began := time.Now()
	binary, err := findRedisServer()
	if err != nil {
		return nil, err
	}
	dir, err := makeRunDir("consulta-redis-")
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	logPath := filepath.Join(dir, "redis.log")

	// The free port may be taken by someone else before redis-server binds
	// it: try again with another one.
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("redis: %w", err)
		}
		proc, err := runRedis(binary, dir, logPath, port)
		if err != nil {
			return nil, fmt.Errorf("redis: start: %w", err)
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		err = waitRedis(ctx, proc, addr)
		if err == nil {
			log.Info("redis: throwaway server started", "binary", binary, "addr", addr, "dir", dir,
				"took", time.Since(began).Round(time.Millisecond))
			return &redisServer{log: log, dir: dir, url: "redis://" + addr + "/0", proc: proc}, nil
		}
		proc.stop(syscall.SIGKILL, time.Second)
		logText := tail(logPath, 20)
		lastErr = fmt.Errorf("redis: start: %w\n%s", err, logText)
		if !strings.Contains(logText, "already in use") {
			break
		}
	}
	return nil, lastErr
}

func runRedis(binary, dir, logPath string, port int) (*child, error) {
	// Truncated at each attempt, so that the log speaks of this one only.
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	cmd := exec.Command(binary,
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--daemonize", "no",
		"--logfile", "",
	)
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	return startChild(cmd, syscall.SIGTERM, nil)
}

// waitRedis waits until the server answers PING, exits, or 10 seconds pass.
func waitRedis(ctx context.Context, proc *child, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		if proc.exited() {
			return fmt.Errorf("redis-server exited: %v", proc.err)
		}
		err := pingRedis(ctx, addr, time.Second)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis-server not ready: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// pingRedis sends PING and expects PONG. A server that wants a password
// answers with an error, and is no use to us without REDIS_URL.
func pingRedis(ctx context.Context, addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line = strings.TrimSpace(line); line != "+PONG" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}
