//go:build unix

package devenv

import (
	"errors"
	"os/exec"
	"syscall"
)

// setSysProcAttr puts the child in its own process group, runs it as cred when
// set, and asks for dieSignal when we die (Linux only).
func setSysProcAttr(cmd *exec.Cmd, dieSignal syscall.Signal, cred *credential) error {
	attr := &syscall.SysProcAttr{Setpgid: true}
	if cred != nil {
		attr.Credential = &syscall.Credential{Uid: cred.uid, Gid: cred.gid}
	}
	setDeathSignal(attr, dieSignal)
	cmd.SysProcAttr = attr
	return nil
}

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
