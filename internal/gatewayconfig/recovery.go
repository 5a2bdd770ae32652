package gatewayconfig

import "time"

// Defaults of namespaces[].recovery.
const (
	DefaultRecoveryMaxDisconnection = Duration(2 * time.Minute)
	DefaultRecoveryMaxPackets       = 10_000
	DefaultRecoveryMaxBytes         = 16 * Megabyte
)

// Recovery is a namespace's connection state recovery, as socket.io-client's
// connectionStateRecovery expects it: a socket whose connection was lost is
// kept for MaxDisconnection, and the packets sent meanwhile are replayed to
// its client when it comes back.
type Recovery struct {
	MaxDisconnection Duration `yaml:"max_disconnection" doc:"How long a socket whose connection was lost can be recovered; never past its token's expiry." default:"2m" doctype:"duration > 0"`
	MaxPackets       int      `yaml:"max_packets" doc:"The packets of the namespace kept for recovery; a client that missed more gets a new session." default:"10000" doctype:"integer ≥ 1"`
	MaxBytes         Size     `yaml:"max_bytes" doc:"The bytes of those packets kept: by each process with the memory adapter, in Redis with the Redis adapter; also what a reconnecting socket may hold of live packets while it reads what it missed." default:"16MB" doctype:"size > 0"`
}

// recoveryDefaults fills in the namespace's recovery, when it has one.
func (c *Config) recoveryDefaults(ns *Namespace) {
	r := ns.Recovery
	if r == nil {
		return
	}
	path := "namespaces." + ns.Name + ".recovery."
	setDefault(c, path+"max_disconnection", &r.MaxDisconnection, DefaultRecoveryMaxDisconnection)
	setDefault(c, path+"max_packets", &r.MaxPackets, DefaultRecoveryMaxPackets)
	setDefault(c, path+"max_bytes", &r.MaxBytes, DefaultRecoveryMaxBytes)
}

// recovery checks a namespace's recovery bounds.
func (v *validator) recovery(ns Namespace) {
	r := ns.Recovery
	if r == nil {
		return
	}
	path := "namespaces." + ns.Name + ".recovery."
	if r.MaxDisconnection <= 0 {
		v.fail(path+"max_disconnection", "recovery: max_disconnection must be above 0, got %s", r.MaxDisconnection)
	}
	if r.MaxPackets < 1 {
		v.fail(path+"max_packets", "recovery: max_packets must be 1 or more, got %d", r.MaxPackets)
	}
	if r.MaxBytes <= 0 {
		v.fail(path+"max_bytes", "recovery: max_bytes must be above 0, got %s", r.MaxBytes)
	}
}
