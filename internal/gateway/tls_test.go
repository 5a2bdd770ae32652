package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/gatewayconfig"
)

// writeCert writes a self-signed certificate for 127.0.0.1 with the given
// common name, and returns the cert and key paths.
func writeCert(t *testing.T, dir, name string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

func tlsConfigText(cert, key string) string {
	return fmt.Sprintf(`server:
  tls: {cert_file: %q, key_file: %q}
namespaces:
  /chat:
    events:
      ping:
        handler:
          reply: {value: '"pong"'}
`, cert, key)
}

// servedCommonName connects over TLS and returns the certificate's name.
func servedCommonName(t *testing.T, addr string) string {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) // self-signed test certificates
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
}

func TestTLSServesAndPicksUpANewCertificateOnReload(t *testing.T) {
	dir := t.TempDir()
	cert1, key1 := writeCert(t, dir, "first")
	g := startLiveGateway(t, tlsConfigText(cert1, key1), Registries{})
	gw, addr := g.gw, g.addr

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz over TLS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz over TLS: %d", resp.StatusCode)
	}
	if got := servedCommonName(t, addr); got != "first" {
		t.Fatalf("served certificate %q, want first", got)
	}

	cert2, key2 := writeCert(t, dir, "second")
	next, err := gatewayconfig.Parse(filepath.Join(dir, "gateway.yaml"), []byte(tlsConfigText(cert2, key2)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gw.Reload(context.Background(), next); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if got := servedCommonName(t, addr); got != "second" {
		t.Fatalf("after reload, served certificate %q, want second", got)
	}

	broken, err := gatewayconfig.Parse(filepath.Join(dir, "gateway.yaml"), []byte(tlsConfigText(filepath.Join(dir, "absent.crt"), key2)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gw.Reload(context.Background(), broken); err == nil {
		t.Fatal("reload with a missing certificate succeeded")
	}
	if got := servedCommonName(t, addr); got != "second" {
		t.Fatalf("a refused reload changed the certificate to %q", got)
	}
}
