package notify

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestPublicOnly(t *testing.T) {
	for _, a := range []string{"127.0.0.1:80", "[::1]:443", "10.1.2.3:80", "172.16.0.1:80", "192.168.1.1:80", "169.254.169.254:80",
		"100.64.0.1:80", "0.0.0.0:80", "[::ffff:127.0.0.1]:80", "[fe80::1]:80", "[fc00::1]:80", "224.0.0.1:80"} {
		if err := publicOnly("tcp", a, nil); err == nil {
			t.Errorf("%s allowed", a)
		}
	}
	for _, a := range []string{"93.184.215.14:443", "[2606:2800:220:1::]:443", "8.8.8.8:53"} {
		if err := publicOnly("tcp", a, nil); err != nil {
			t.Errorf("%s refused: %v", a, err)
		}
	}
}

// The default client refuses a loopback endpoint; with AllowPrivateNetworks it reaches it.
func TestClientRefusesPrivateAddresses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	d := Delivery{URL: srv.URL, Secret: NewSecret(), MessageID: "msg_1", Body: `{}`}
	s := New(Config{Timeout: 5 * time.Second})
	if _, err := s.post(context.Background(), d); err == nil || !strings.Contains(err.Error(), "not a public address") {
		t.Fatalf("loopback endpoint: %v", err)
	}
	s = New(Config{Timeout: 5 * time.Second, AllowPrivateNetworks: true})
	if st, err := s.post(context.Background(), d); err != nil || st != 200 {
		t.Fatalf("allowed loopback endpoint: %d %v", st, err)
	}
}
