package e2e_test

import (
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"daemonauth"
	"daemonauth/internal/daemonclient"
	"daemonauth/internal/seed"
)

// The worker reads its Temporal connection from a profile that the
// temporal CLI itself wrote, with no TEMPORAL_ADDRESS or TEMPORAL_NAMESPACE
// set. The profile names a namespace of its own, so a worker that ignored
// the profile would poll "default" and the start-up would never run.
func TestWorkerConnectsWithCLIProfile(t *testing.T) {
	s := startStack(t)
	ctx := testContext(t)
	cli := temporalCLI(t)
	address := s.cfg.Temporal.Address
	const namespace = "envconfig-e2e"
	const taskQueue = "envconfig-test"

	runCommand(t, nil, cli, "operator", "namespace", "create", "--address", address, "--namespace", namespace)
	waitForNamespace(t, cli, address, namespace)

	profileFile := filepath.Join(t.TempDir(), "temporal.toml")
	profileEnv := []string{"TEMPORAL_CONFIG_FILE=" + profileFile}
	runCommand(t, profileEnv, cli, "config", "set", "--profile", "e2e", "--prop", "address", "--value", address)
	runCommand(t, profileEnv, cli, "config", "set", "--profile", "e2e", "--prop", "namespace", "--value", namespace)

	worker := startWorkerBinary(t, []string{
		"TEMPORAL_CONFIG_FILE=" + profileFile,
		"TEMPORAL_PROFILE=e2e",
		"DAEMONAUTH_DATABASE_URL=" + s.dbURL,
		"DAEMONAUTH_TEMPORAL_TASK_QUEUE=" + taskQueue,
	}, "--register-search-attributes", "--metrics-address=")

	var starting struct {
		TemporalAddress string `json:"temporal_address"`
		Namespace       string `json:"namespace"`
		TemporalTLS     bool   `json:"temporal_tls"`
	}
	require.NoError(t, json.Unmarshal([]byte(worker.seen[len(worker.seen)-1]), &starting))
	assert.Equal(t, address, starting.TemporalAddress, "the worker takes the address from the profile")
	assert.Equal(t, namespace, starting.Namespace, "the worker takes the namespace from the profile")
	assert.False(t, starting.TemporalTLS, "the profile sets no TLS")

	discard := log.NewStructuredLogger(slog.New(slog.DiscardHandler))
	c, err := client.DialContext(ctx, client.Options{HostPort: address, Namespace: namespace, Logger: discard})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	userID := s.seedUser(t)
	token := s.issueToken(t, userID, seed.TokenSpec{ExpiresIn: seed.Days(3)})

	result, err := daemonclient.StartDaemon(ctx, c, taskQueue, daemonauth.DaemonStartupInput{DaemonID: "envconfig-laptop", TokenID: token.ID})

	require.NoError(t, err, "the worker polls the profile's namespace")
	assert.Equal(t, daemonauth.OutcomeRenewed, result.Renewal.Outcome)
	_, err = daemonclient.StopRenewal(ctx, c, "envconfig-laptop", "")
	require.NoError(t, err)
}

// waitForNamespace waits until the dev server describes a namespace that it
// has just created, which takes a moment to reach the server's cache.
func waitForNamespace(t *testing.T, cli, address, namespace string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, stderr, err := tryCommand(nil, cli, "operator", "namespace", "describe", "--address", address, "--namespace", namespace)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s not available within 30 s: %s", namespace, stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
