package verify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"

	"stationdesk/app/atomicfile"
)

// LoadTLS reads the station certificate and key (PEM) for the gate
// listener: TLS 1.2 or later.
func LoadTLS(certFile, keyFile string) (*tls.Config, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("gate TLS certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS12}, nil
}

// CertPin is the pin a gate checks: the lower-case hex SHA-256 of the
// certificate's DER bytes (what `openssl x509 -outform der | sha256sum`
// prints).
func CertPin(der []byte) string {
	h := sha256.Sum256(der)
	return hex.EncodeToString(h[:])
}

// CertFilePin reads a PEM certificate file and returns its pin.
func CertFilePin(certFile string) (string, error) {
	b, err := os.ReadFile(certFile)
	if err != nil {
		return "", err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return "", errors.New("no PEM certificate in " + certFile)
	}
	return CertPin(blk.Bytes), nil
}

// GenerateCert writes a self-signed ECDSA P-256 station certificate valid
// for hosts (IP addresses or DNS names) for ten years to certFile (0644)
// and its key to keyFile (0600), and returns the certificate's pin. Gates
// trust it by the pin, not by a CA.
func GenerateCert(certFile, keyFile, stationID string, hosts []string, now time.Time) (string, error) {
	if len(hosts) == 0 {
		return "", errors.New("gate TLS certificate: give at least one host (the address gates connect to)")
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return "", err
	}
	tpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "stationdesk gate service " + stationID, Organization: []string{"StationDesk"}},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tpl.IPAddresses = append(tpl.IPAddresses, ip)
		} else {
			tpl.DNSNames = append(tpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		return "", err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", err
	}
	return CertPin(der), nil
}

// PinnedTLSClient returns a TLS client config that accepts exactly the
// certificate with this pin (what a gate does; conformance and tests).
func PinnedTLSClient(pin string) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // the pin below replaces CA verification
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || CertPin(raw[0]) != pin {
				return errors.New("station certificate does not match the pin")
			}
			return nil
		},
	}
}
