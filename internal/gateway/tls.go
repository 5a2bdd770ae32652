package gateway

import (
	"crypto/tls"
	"sync/atomic"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// certificate is the server's TLS certificate, replaced in place on reload
// so that new handshakes use the new one and open connections are kept.
type certificate struct {
	current atomic.Pointer[tls.Certificate]
}

// loadCertificate reads server.tls.cert_file and key_file.
func loadCertificate(cfg *gatewayconfig.Config) (*certificate, error) {
	pair, err := tls.LoadX509KeyPair(cfg.Server.TLS.CertFile, cfg.Server.TLS.KeyFile)
	if err != nil {
		return nil, gatewayconfig.Errorf(cfg.PosOf("server.tls"), "server.tls: cannot load the certificate and key: %v", err)
	}
	c := &certificate{}
	c.current.Store(&pair)
	return c, nil
}

// replace swaps in the certificate of next.
func (c *certificate) replace(next *certificate) { c.current.Store(next.current.Load()) }

// serverConfig is the TLS configuration of the listener.
func (c *certificate) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.current.Load(), nil
		},
	}
}
