//go:build ignore

// testreport reads `go test -json` on stdin and prints what plain `go test` prints: the
// output of failing tests and a line per package. It exits 1 when a test failed or when
// a test that CI must run was skipped: one whose name or skip message speaks of
// PostgreSQL, a browser, stripe-mock or the Node SDK checks.
//
//	go test -json ./... | go run .ci/testreport.go
package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

type key struct{ pkg, test string }

func main() {
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	outputs := map[key][]string{}
	var passed, failed, skipped, pkgFailed int
	var mustRun []string
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Action == "" {
			fmt.Println(sc.Text()) // not JSON: print as it came
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "build-output":
			fmt.Print(e.Output)
		case "output":
			if e.Test != "" {
				outputs[k] = append(outputs[k], e.Output)
			} else if e.Output != "PASS\n" && !strings.HasPrefix(e.Output, "=== ") {
				fmt.Print(e.Output)
			}
		case "pass":
			if e.Test != "" {
				passed++
			}
			delete(outputs, k)
		case "fail":
			if e.Test == "" {
				pkgFailed++
			} else {
				failed++
				for _, line := range outputs[k] {
					if !strings.HasPrefix(strings.TrimSpace(line), "=== ") {
						fmt.Print(line)
					}
				}
			}
			delete(outputs, k)
		case "skip":
			if e.Test != "" {
				skipped++
				msg := strings.Join(outputs[k], "")
				if needed(e.Test, msg) {
					mustRun = append(mustRun, fmt.Sprintf("%s %s: %s", e.Package, e.Test, lastLine(msg)))
				}
			}
			delete(outputs, k)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(1)
	}
	unfinished := slices.SortedFunc(maps.Keys(outputs), func(a, b key) int {
		return cmp.Or(strings.Compare(a.pkg, b.pkg), strings.Compare(a.test, b.test))
	})
	for _, k := range unfinished { // tests that never ended: the binary was killed or hung
		if lines := outputs[k]; len(lines) > 0 && k.test != "" {
			fmt.Printf("--- UNFINISHED: %s %s\n", k.pkg, k.test)
			for _, line := range lines {
				fmt.Print(line)
			}
		}
	}
	fmt.Printf("\ntests: %d passed, %d failed, %d skipped; packages failed: %d\n", passed, failed, skipped, pkgFailed)
	if len(mustRun) > 0 {
		fmt.Printf("\nFAIL: %d PostgreSQL, browser, stripe-mock or Node SDK test(s) were skipped; CI must run them all:\n", len(mustRun))
		for _, s := range mustRun {
			fmt.Println("  " + s)
		}
		os.Exit(1)
	}
	if failed > 0 || pkgFailed > 0 {
		os.Exit(1)
	}
}

// needed reports whether a skipped test is one CI must run.
func needed(test, msg string) bool {
	s := strings.ToLower(test + " " + msg)
	for _, w := range []string{"postgres", "browser", "chromium", "stripe-mock", "node_check"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" && !strings.HasPrefix(l, "--- SKIP") {
			return l
		}
	}
	return "(no message)"
}
