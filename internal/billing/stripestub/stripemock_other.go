//go:build !linux

package stripestub

import "os/exec"

// runUntilExit starts cmd and reports the start on started. Off Linux nothing ties
// stripe-mock's life to the test binary's: it is left running when the tests end.
func runUntilExit(cmd *exec.Cmd, started chan<- error) {
	if err := cmd.Start(); err != nil {
		started <- err
		return
	}
	started <- nil
	cmd.Wait()
}
