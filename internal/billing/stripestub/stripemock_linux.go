package stripestub

import (
	"os/exec"
	"runtime"
	"syscall"
)

// runUntilExit starts cmd so that it dies with the test binary (SIGKILL when its parent
// thread ends), reports the start on started, and then holds its locked OS thread (the
// parent the kernel watches) until cmd exits.
func runUntilExit(cmd *exec.Cmd, started chan<- error) {
	runtime.LockOSThread()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		runtime.UnlockOSThread()
		started <- err
		return
	}
	started <- nil
	cmd.Wait()
}
