//go:build unix && !linux

package devenv

import "syscall"

// setDeathSignal does nothing: only Linux has a parent-death signal. A server
// whose owner crashed keeps running until stopped by hand.
func setDeathSignal(*syscall.SysProcAttr, syscall.Signal) {}
