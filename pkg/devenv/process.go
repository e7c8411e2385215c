package devenv

import (
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// credential is the OS user a child process runs as.
type credential struct {
	uid, gid uint32
}

// child is a server process started by this package.
type child struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // the result of Wait, set before done is closed
}

// startChild starts cmd in its own process group and, where the platform
// allows it, asks the kernel to send it dieSignal when we die.
//
// On Linux the parent-death signal is tied to the thread that forked the
// child, not to the process, and the Go runtime may end idle threads. So the
// goroutine that starts the child stays locked to its thread until the child
// has exited.
func startChild(cmd *exec.Cmd, dieSignal syscall.Signal, cred *credential) (*child, error) {
	if err := setSysProcAttr(cmd, dieSignal, cred); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		c.err = cmd.Wait()
		close(c.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return c, nil
}

// exited reports whether the process has exited.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends sig and waits for the process to exit; after grace it kills it.
func (c *child) stop(sig os.Signal, grace time.Duration) {
	if c.exited() {
		return
	}
	_ = c.cmd.Process.Signal(sig)
	select {
	case <-c.done:
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}
