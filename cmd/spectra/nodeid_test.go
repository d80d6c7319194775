package main

import (
	"errors"
	"strings"
	"testing"
)

func TestNodeID(t *testing.T) {
	host := func(name string, err error) func() (string, error) {
		return func() (string, error) { return name, err }
	}
	id, from, err := nodeID("gw-1", "127.0.0.1:8080", host("box", nil))
	if err != nil || id != "gw-1" || from != envNodeID {
		t.Fatalf("set: %q %q %v", id, from, err)
	}
	// Unset: the host's name and the port, the same on every start of this node.
	a, _, _ := nodeID("", "0.0.0.0:8080", host("box", nil))
	b, _, _ := nodeID("", ":8080", host("box", nil))
	if a != "box:8080" || b != a {
		t.Fatalf("derived: %q, %q", a, b)
	}
	other, _, _ := nodeID("", ":8081", host("box", nil))
	if other == a {
		t.Fatalf("two ports on one host share %q", a)
	}
	// No stable source: a random id each time, never a shared one.
	for _, c := range []struct {
		addr string
		host func() (string, error)
	}{{"127.0.0.1:0", host("box", nil)}, {":8080", host("", errors.New("no name"))}} {
		x, from, _ := nodeID("", c.addr, c.host)
		y, _, _ := nodeID("", c.addr, c.host)
		if x == y || !strings.HasPrefix(x, "node-") || !strings.HasPrefix(from, "random") {
			t.Fatalf("%s: %q %q (%s)", c.addr, x, y, from)
		}
	}
	for _, bad := range []string{"has space", "nul\x00", strings.Repeat("x", 129)} {
		if _, _, err := nodeID(bad, ":8080", host("box", nil)); err == nil || !strings.Contains(err.Error(), envNodeID) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
