package devenv

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// ApertiumModesDir is where Debian's Apertium pairs install their modes.
const ApertiumModesDir = "/usr/share/apertium/modes"

// errNoApertiumAPY says how to get apertium-apy.
var errNoApertiumAPY = &MissingError{
	What:    "apertium-apy",
	Install: "install it with `apt-get install -y --no-install-recommends apertium-apy` (Debian/Ubuntu)",
}

// StartApertiumAPY starts a throwaway apertium-apy, Apertium's HTTP server,
// on a free port of 127.0.0.1, serving the pairs installed in modesDir
// (ApertiumModesDir when empty), and returns its URL once it lists its
// pairs. When apertium-apy is not installed the error is a *MissingError.
// stop stops the server and removes its directory; it may be called more
// than once.
func StartApertiumAPY(ctx context.Context, log *slog.Logger, modesDir string) (url string, stop func(), err error) {
	log = orDiscard(log)
	if modesDir == "" {
		modesDir = ApertiumModesDir
	}
	binary, err := exec.LookPath("apertium-apy")
	if err != nil {
		return "", nil, errNoApertiumAPY
	}
	if _, err := os.Stat(modesDir); err != nil {
		return "", nil, &MissingError{What: "Apertium language pairs (" + modesDir + ")",
			Install: "install them with `apt-get install -y --no-install-recommends apertium-eng-spa apertium-es-pt apertium-fr-es`"}
	}
	dir, err := makeRunDir("consulta-apertium-")
	if err != nil {
		return "", nil, fmt.Errorf("apertium-apy: %w", err)
	}
	began := time.Now()
	var lastErr error
	// The free port may be taken before apertium-apy binds it: try another.
	for range 3 {
		port, err := freePort()
		if err != nil {
			os.RemoveAll(dir)
			return "", nil, fmt.Errorf("apertium-apy: %w", err)
		}
		logPath := filepath.Join(dir, "apertium-apy.log")
		logFile, err := os.Create(logPath)
		if err != nil {
			os.RemoveAll(dir)
			return "", nil, fmt.Errorf("apertium-apy: %w", err)
		}
		cmd := exec.Command(binary, modesDir, "-p", strconv.Itoa(port))
		cmd.Dir = dir // it creates its language-names database in the working directory
		cmd.Stdout, cmd.Stderr = logFile, logFile
		proc, err := startChild(cmd, syscall.SIGTERM, nil)
		logFile.Close() // the child has its own descriptor
		if err != nil {
			os.RemoveAll(dir)
			return "", nil, fmt.Errorf("apertium-apy: start: %w", err)
		}
		u := "http://127.0.0.1:" + strconv.Itoa(port)
		if err = waitHTTP(ctx, proc, u+"/listPairs", 30*time.Second); err == nil {
			log.Info("apertium-apy: throwaway server started", "url", u, "dir", dir, "took", time.Since(began).Round(time.Millisecond))
			return u, sync.OnceFunc(func() {
				proc.stop(syscall.SIGTERM, 5*time.Second)
				os.RemoveAll(dir)
				log.Info("apertium-apy: throwaway server stopped")
			}), nil
		}
		proc.stop(syscall.SIGKILL, time.Second)
		lastErr = fmt.Errorf("apertium-apy: start: %w\n%s", err, tail(logPath, 20))
	}
	os.RemoveAll(dir)
	return "", nil, lastErr
}

// waitHTTP waits until url answers 200, the process exits, or timeout passes.
func waitHTTP(ctx context.Context, proc *child, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if proc.exited() {
			return fmt.Errorf("exited: %v", proc.err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
