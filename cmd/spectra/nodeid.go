package main

import (
	"fmt"
	"net"
	"os"
	"strings"

	"spectra/internal/gateway"
)

// envNodeID names this node among the gateways that share a database.
const envNodeID = "SPECTRA_NODE_ID"

// nodeID picks the gateway's node id: SPECTRA_NODE_ID when set; otherwise the host's
// name and the port serve listens on (two live processes on one host cannot share a
// port, and a restart of the same node gets the same id back); with no port to go by
// (port 0, or no host name), a random id, which is safe but not stable. It returns the
// id and where it came from, for the start-up log.
func nodeID(set, addr string, hostname func() (string, error)) (id, from string, err error) {
	if set != "" {
		if err := gateway.ValidNodeID(set); err != nil {
			return "", "", fmt.Errorf("%s=%q: %v", envNodeID, set, err)
		}
		return set, envNodeID, nil
	}
	_, port, err := net.SplitHostPort(addr)
	host, herr := hostname()
	host = strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f {
			return -1
		}
		return r
	}, host)
	if err != nil || port == "" || port == "0" || herr != nil || host == "" {
		return gateway.RandomNodeID(), "random (set " + envNodeID + " for a stable id)", nil
	}
	id = host + ":" + port
	if len(id) > gateway.MaxNodeIDLen {
		id = id[len(id)-gateway.MaxNodeIDLen:]
	}
	if gateway.ValidNodeID(id) != nil {
		return gateway.RandomNodeID(), "random (set " + envNodeID + " for a stable id)", nil
	}
	return id, "host name and port", nil
}

// osHostname is os.Hostname, replaced in tests.
var osHostname = os.Hostname
