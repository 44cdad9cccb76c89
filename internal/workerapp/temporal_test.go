package workerapp_test

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
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"

	"daemonauth/internal/config"
	"daemonauth/internal/workerapp"
)

// isolateEnvironment unsets every TEMPORAL_ and DAEMONAUTH_ variable for
// the test, and points TEMPORAL_CONFIG_FILE at a file that does not exist,
// so that neither the machine's environment nor the user's own temporal CLI
// profile leaks into the test. An empty TEMPORAL_TLS_* variable would turn
// TLS on, so the variables are unset rather than emptied.
func isolateEnvironment(t *testing.T) {
	for _, entry := range os.Environ() {
		name, _, _ := strings.Cut(entry, "=")
		if strings.HasPrefix(name, "TEMPORAL_") || strings.HasPrefix(name, "DAEMONAUTH_") {
			t.Setenv(name, "") // restores the value when the test ends
			require.NoError(t, os.Unsetenv(name))
		}
	}
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "absent.toml"))
}

func load(t *testing.T, args ...string) (config.Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	config.AddFlags(fs)
	require.NoError(t, fs.Parse(args))
	return config.Load(fs)
}

// pki is a throwaway certificate authority with a server and a client
// certificate signed by it, written as PEM files.
type pki struct {
	ca         *x509.Certificate
	server     tls.Certificate
	client     *x509.Certificate
	caFile     string
	clientCert string
	clientKey  string
}

const serverName = "temporal.test"

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTemplate := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "daemon-auth test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)

	issue := func(serial int64, template *x509.Certificate) (*x509.Certificate, *ecdsa.PrivateKey) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		template.SerialNumber = big.NewInt(serial)
		template.NotBefore = time.Now().Add(-time.Hour)
		template.NotAfter = time.Now().Add(time.Hour)
		template.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, template, ca, &key.PublicKey, caKey)
		require.NoError(t, err)
		cert, err := x509.ParseCertificate(der)
		require.NoError(t, err)
		return cert, key
	}
	serverCert, serverKey := issue(2, &x509.Certificate{
		Subject:     pkix.Name{CommonName: serverName},
		DNSNames:    []string{serverName},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	clientCert, clientKey := issue(3, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "daemon-auth-worker"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})

	p := pki{
		ca:         ca,
		server:     tls.Certificate{Certificate: [][]byte{serverCert.Raw}, PrivateKey: serverKey, Leaf: serverCert},
		client:     clientCert,
		caFile:     filepath.Join(dir, "ca.pem"),
		clientCert: filepath.Join(dir, "client.pem"),
		clientKey:  filepath.Join(dir, "client.key"),
	}
	writePEM(t, p.caFile, "CERTIFICATE", ca.Raw)
	writePEM(t, p.clientCert, "CERTIFICATE", clientCert.Raw)
	keyDER, err := x509.MarshalPKCS8PrivateKey(clientKey)
	require.NoError(t, err)
	writePEM(t, p.clientKey, "PRIVATE KEY", keyDER)
	return p
}

func writePEM(t *testing.T, path, blockType string, der []byte) {
	t.Helper()
	data := pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der})
	require.NoError(t, os.WriteFile(path, data, 0o600))
}

// writeProfile writes a profile named prod in the layout that
// `temporal config set --profile prod --prop tls.client_cert_path ...`
// (temporal CLI v1.5.1) writes, and points TEMPORAL_CONFIG_FILE at it.
func writeProfile(t *testing.T, p pki, address, namespace string) string {
	t.Helper()
	profile := fmt.Sprintf(`[profile]
  [profile.prod]
    address = %q
    namespace = %q
    [profile.prod.tls]
      client_cert_path = %q
      client_key_path = %q
      server_ca_cert_path = %q
      server_name = %q
`, address, namespace, p.clientCert, p.clientKey, p.caFile, serverName)
	path := filepath.Join(t.TempDir(), "temporal.toml")
	require.NoError(t, os.WriteFile(path, []byte(profile), 0o600))
	t.Setenv("TEMPORAL_CONFIG_FILE", path)
	return path
}

func TestClientOptionsFromProfileWithMTLS(t *testing.T) {
	isolateEnvironment(t)
	p := newPKI(t)
	writeProfile(t, p, "127.0.0.1:7299", "auth-prod")
	t.Setenv("TEMPORAL_PROFILE", "prod")

	cfg, err := load(t)
	require.NoError(t, err)
	options, err := workerapp.ClientOptions(cfg, nil)
	require.NoError(t, err)

	assert.Equal(t, "127.0.0.1:7299", cfg.Temporal.Address, "the configuration takes the profile's address")
	assert.Equal(t, "auth-prod", cfg.Temporal.Namespace, "the configuration takes the profile's namespace")
	assert.Equal(t, "127.0.0.1:7299", options.HostPort)
	assert.Equal(t, "auth-prod", options.Namespace)
	require.NotNil(t, options.ConnectionOptions.TLS, "the profile turns TLS on")
	require.Len(t, options.ConnectionOptions.TLS.Certificates, 1, "the profile's client certificate is loaded")
	assert.Equal(t, p.client.Raw, options.ConnectionOptions.TLS.Certificates[0].Certificate[0],
		"the client certificate is the one in the profile")
	roots := x509.NewCertPool()
	roots.AddCert(p.ca)
	assert.True(t, roots.Equal(options.ConnectionOptions.TLS.RootCAs), "the server is verified against the profile's CA only")
	assert.Equal(t, serverName, options.ConnectionOptions.TLS.ServerName)
	assert.False(t, options.ConnectionOptions.TLS.InsecureSkipVerify)
	assert.Nil(t, options.Credentials, "no API key is configured")
	assert.True(t, workerapp.UsesTLS(cfg))
}

func TestClientOptionsOverridesOfProfile(t *testing.T) {
	isolateEnvironment(t)
	p := newPKI(t)
	writeProfile(t, p, "127.0.0.1:7299", "auth-prod")
	t.Setenv("TEMPORAL_PROFILE", "prod")

	t.Setenv("TEMPORAL_NAMESPACE", "from-env")
	cfg, err := load(t, "--temporal-address", "127.0.0.1:7300")
	require.NoError(t, err)
	options, err := workerapp.ClientOptions(cfg, nil)
	require.NoError(t, err)

	assert.Equal(t, "127.0.0.1:7300", options.HostPort, "--temporal-address overrides the profile")
	assert.Equal(t, "from-env", options.Namespace, "TEMPORAL_NAMESPACE overrides the profile")
	require.NotNil(t, options.ConnectionOptions.TLS)
	require.Len(t, options.ConnectionOptions.TLS.Certificates, 1, "the profile's TLS settings still apply")

	file := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(file, []byte("temporal:\n  namespace: from-file\n"), 0o600))
	require.NoError(t, os.Unsetenv("TEMPORAL_NAMESPACE"))
	cfg, err = load(t, "--config", file)
	require.NoError(t, err)
	assert.Equal(t, "from-file", cfg.Temporal.Namespace, "this project's config file overrides the profile")
	assert.Equal(t, "127.0.0.1:7299", cfg.Temporal.Address, "a key the file leaves out keeps the profile's value")
}

func TestClientOptionsAPIKeyFromEnvironment(t *testing.T) {
	isolateEnvironment(t)
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:7299")
	t.Setenv("TEMPORAL_API_KEY", "test-api-key")

	cfg, err := load(t)
	require.NoError(t, err)
	options, err := workerapp.ClientOptions(cfg, nil)
	require.NoError(t, err)

	assert.Equal(t, "127.0.0.1:7299", options.HostPort)
	assert.NotNil(t, options.Credentials, "TEMPORAL_API_KEY sets the client's credentials")
	assert.NotNil(t, options.ConnectionOptions.TLS, "an API key turns TLS on, as in the temporal CLI")
}

func TestClientOptionsWithoutProfile(t *testing.T) {
	isolateEnvironment(t)

	cfg, err := load(t)
	require.NoError(t, err)
	options, err := workerapp.ClientOptions(cfg, nil)
	require.NoError(t, err)

	assert.Equal(t, "127.0.0.1:7233", options.HostPort, "without a profile the default is the local dev server")
	assert.Equal(t, "default", options.Namespace)
	assert.Nil(t, options.ConnectionOptions.TLS, "without a profile the connection is plain")
	assert.Nil(t, options.Credentials)
}

func TestLoadRejectsBadProfiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		// edit breaks the profile that writeProfile wrote at path.
		edit func(t *testing.T, path string, p pki)
		want []string
	}{
		{
			name: "unknown profile",
			edit: func(t *testing.T, path string, p pki) { t.Setenv("TEMPORAL_PROFILE", "staging") },
			want: []string{`temporal CLI profile "staging"`, "TEMPORAL_PROFILE"},
		},
		{
			name: "missing client key",
			edit: func(t *testing.T, path string, p pki) {
				t.Setenv("TEMPORAL_PROFILE", "prod")
				require.NoError(t, os.Remove(p.clientKey))
			},
			want: []string{`temporal CLI profile "prod"`, "client.key"},
		},
		{
			name: "invalid TOML",
			edit: func(t *testing.T, path string, p pki) {
				t.Setenv("TEMPORAL_PROFILE", "prod")
				require.NoError(t, os.WriteFile(path, []byte("[profile.prod\naddress = 1"), 0o600))
			},
			want: []string{`temporal CLI profile "prod"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			isolateEnvironment(t)
			p := newPKI(t)
			path := writeProfile(t, p, "127.0.0.1:7299", "auth-prod")
			tc.edit(t, path, p)

			_, err := load(t)

			require.Error(t, err)
			assert.Contains(t, err.Error(), path, "the error names the profile file")
			for _, want := range tc.want {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

// A TLS server on loopback that requires a client certificate signed by the
// test CA shows that DialTemporal really connects with the profile's
// certificate and verifies the server against the profile's CA and server
// name. The server is no Temporal frontend, so the dial itself fails.
func TestDialTemporalPresentsProfileCertificate(t *testing.T) {
	isolateEnvironment(t)
	p := newPKI(t)
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(p.ca)
	listener, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{p.server},
		ClientCAs:    clientCAs,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		NextProtos:   []string{"h2"},
	})
	require.NoError(t, err)
	t.Cleanup(func() { listener.Close() })

	presented := make(chan *x509.Certificate, 1)
	go acceptHandshakes(listener, presented)

	writeProfile(t, p, listener.Addr().String(), "auth-prod")
	t.Setenv("TEMPORAL_PROFILE", "prod")
	cfg, err := load(t)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	discard := log.NewStructuredLogger(slog.New(slog.DiscardHandler))
	_, dialErr := workerapp.DialTemporal(ctx, cfg, discard)

	require.Error(t, dialErr, "the test server is no Temporal frontend")
	assert.Contains(t, dialErr.Error(), "connect to Temporal at "+listener.Addr().String())
	select {
	case cert := <-presented:
		assert.Equal(t, p.client.Raw, cert.Raw, "the client presented the profile's certificate")
	case <-time.After(5 * time.Second):
		t.Fatal("no TLS handshake completed: the client did not present a certificate the server accepts, " +
			"or did not accept the server's certificate")
	}
}

// acceptHandshakes completes the TLS handshake of every connection and
// sends the first certificate that a client presents.
func acceptHandshakes(listener net.Listener, presented chan<- *x509.Certificate) {
	for {
		conn, err := listener.Accept()
		if err != nil {
			return
		}
		tlsConn := conn.(*tls.Conn)
		if err := tlsConn.Handshake(); err == nil {
			if certs := tlsConn.ConnectionState().PeerCertificates; len(certs) > 0 {
				select {
				case presented <- certs[0]:
				default:
				}
			}
		}
		conn.Close()
	}
}
