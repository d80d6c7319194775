//go:build !unix

package gateway

import "os"

// flock is a no-op where flock(2) does not exist: two processes must not be given the
// same node id and data directory there.
func flock(*os.File) error { return nil }
