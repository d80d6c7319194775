package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
)

func versionCommand(*flag.FlagSet) func(context.Context, *env) error {
	return func(_ context.Context, e *env) error {
		fmt.Fprintln(e.stdout, versionString())
		return nil
	}
}

// versionString describes this build from its embedded build information: the module
// version, and the commit when the binary was built from a VCS checkout.
func versionString() string {
	version, commit, modified, when := "unknown", "", false, ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			case "vcs.time":
				when = s.Value
			}
		}
	}
	if version == "" {
		version = "(devel)"
	}
	out := "spectra " + version
	if commit != "" {
		if len(commit) > 12 {
			commit = commit[:12]
		}
		out += " commit " + commit
		if modified {
			out += "+modified"
		}
		if when != "" {
			out += " (" + when + ")"
		}
	} else {
		out += " commit unknown (built without VCS information)"
	}
	return fmt.Sprintf("%s %s %s/%s", out, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
