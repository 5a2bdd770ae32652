package gatewayconfig

import (
	"strings"
	"testing"
	"time"
)

func TestLimitsTakeTheirDefaultsWhenNotWritten(t *testing.T) {
	cfg, err := Parse("gw.yaml", yamlText(validNamespaces), envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Limits{
		MaxConnections:          100000,
		MaxConnectionsPerIP:     1000,
		MaxConnectionsPerUser:   100,
		UserClaim:               "sub",
		HandshakeTimeout:        Duration(10 * time.Second),
		ConnectTimeout:          Duration(45 * time.Second),
		MaxNamespacesPerSession: 16,
		MaxRoomsPerSocket:       256,
		MaxQueuedBytesPerSocket: 4 * Megabyte,
		BinaryPacketTimeout:     Duration(10 * time.Second),
		BodyTimeout:             Duration(10 * time.Second),
		MaxTCPConnectionsPerIP:  2000,
		MessageTimeout:          Duration(10 * time.Second),
		Flood:                   Flood{Rate: 100, Per: Duration(time.Second), Burst: 200, DisconnectAfter: 100},
	}
	if got := cfg.Server.Limits; got != want {
		t.Errorf("limits = %+v, want %+v", got, want)
	}
}

func TestLimitsKeepWhatIsWrittenIncludingZero(t *testing.T) {
	yaml := `
server:
  limits:
    max_connections: 0
    max_connections_per_ip: 3
    max_connections_per_user: 0
    user_claim: uid
    handshake_timeout: 1500ms
    connect_timeout: 5s
    max_namespaces_per_session: 2
    max_rooms_per_socket: 0
    max_queued_bytes_per_socket: 0
    binary_packet_timeout: 3s
    body_timeout: 2s
    max_tcp_connections_per_ip: 0
    message_timeout: 4s
    flood: {rate: 5, per: 2s, burst: 7, disconnect_after: 0}
` + validNamespaces
	cfg, err := Parse("gw.yaml", yamlText(yaml), envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Limits{
		MaxConnections:          0,
		MaxConnectionsPerIP:     3,
		UserClaim:               "uid",
		HandshakeTimeout:        Duration(1500 * time.Millisecond),
		ConnectTimeout:          Duration(5 * time.Second),
		MaxNamespacesPerSession: 2,
		MaxRoomsPerSocket:       0,
		BinaryPacketTimeout:     Duration(3 * time.Second),
		BodyTimeout:             Duration(2 * time.Second),
		MessageTimeout:          Duration(4 * time.Second),
		Flood:                   Flood{Rate: 5, Per: Duration(2 * time.Second), Burst: 7, DisconnectAfter: 0},
	}
	if got := cfg.Server.Limits; got != want {
		t.Errorf("limits = %+v, want %+v", got, want)
	}
}

func TestLimitsMistakesAreReportedAtTheirPosition(t *testing.T) {
	tests := []struct {
		name     string
		limits   string // the lines under "limits:", indented by four spaces
		want     string
		fragment string
	}{
		{"negative connection limit", "    max_connections: -1\n", "gw.yaml:3:22: ", "0 (no limit) or more"},
		{"negative per-address limit", "    max_connections_per_ip: -5\n", "gw.yaml:3:29: ", "max_connections_per_ip must be 0"},
		{"handshake timeout of zero", "    handshake_timeout: 0s\n", "gw.yaml:3:24: ", "cuts off clients"},
		{"connect timeout of zero", "    connect_timeout: 0s\n", "gw.yaml:3:22: ", "connect_timeout must be greater than 0"},
		{"binary packet timeout of zero", "    binary_packet_timeout: 0s\n", "gw.yaml:3:28: ", "attachments never come"},
		{"negative rooms", "    max_rooms_per_socket: -1\n", "gw.yaml:3:27: ", "max_rooms_per_socket must be 0"},
		{"negative per-user limit", "    max_connections_per_user: -1\n", "gw.yaml:3:31: ", "max_connections_per_user must be 0"},
		{"empty user claim", "    user_claim: \"\"\n", "gw.yaml:3:17: ", "user_claim must name a claim"},
		{"flood without burst", "    flood:\n      burst: 0\n", "gw.yaml:4:14: ", "at least 1"},
		{"flood with negative rate", "    flood:\n      rate: -2\n", "gw.yaml:4:13: ", "flood.rate must be 0"},
		{"misspelt key", "    max_conections: 5\n", "gw.yaml:3:5: ", `did you mean "max_connections"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			yaml := "server:\n  limits:\n" + tc.limits + strings.TrimPrefix(validNamespaces, "\n")
			_, err := Parse("gw.yaml", []byte(yaml), envOf(nil))
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tc.want) || !strings.Contains(msg, tc.fragment) {
				t.Errorf("error = %q, want prefix %q and %q", msg, tc.want, tc.fragment)
			}
		})
	}
}

func TestTCPConnectionsPerAddressFollowSessionsPerAddressUnlessWritten(t *testing.T) {
	tests := []struct {
		name   string
		limits string
		want   int
	}{
		{"neither written", "", 2 * DefaultMaxConnectionsPerIP},
		{"sessions raised", "max_connections_per_ip: 5000", 10000},
		{"sessions off", "max_connections_per_ip: 0", 0},
		{"both written", "{max_connections_per_ip: 5000, max_tcp_connections_per_ip: 300}", 300},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := validNamespaces
			if tc.limits != "" {
				limits := tc.limits
				if !strings.HasPrefix(limits, "{") {
					limits = "{" + limits + "}"
				}
				text = "\nserver:\n  limits: " + limits + "\n" + validNamespaces
			}
			cfg, err := Parse("gw.yaml", yamlText(text), envOf(nil))
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Server.Limits.MaxTCPConnectionsPerIP; got != tc.want {
				t.Errorf("max_tcp_connections_per_ip = %d, want %d", got, tc.want)
			}
		})
	}
}
