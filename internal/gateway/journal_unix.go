//go:build unix

package gateway

import (
	"errors"
	"os"
	"syscall"
)

// flock takes f's exclusive advisory lock without waiting (errLocked when another open
// file holds it). The kernel releases it when the process dies, however it dies.
func flock(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errLocked
	}
	return err
}
