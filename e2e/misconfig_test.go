package e2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daemonauth/internal/devenv"
	"daemonauth/internal/testenv"
)

// quietMetrics keeps a worker that gets past its configuration off the
// default metrics port, which another test's worker may hold. A build of
// the worker without metrics ignores the variable.
const quietMetrics = "DAEMONAUTH_METRICS_ADDRESS=127.0.0.1:0"

func TestWorkerRejectsMisconfiguration(t *testing.T) {
	t.Parallel()
	worker := buildBinary(t, "worker")
	configFile := filepath.Join(t.TempDir(), "worker.yaml")
	require.NoError(t, os.WriteFile(configFile, []byte("renewal:\n  extention: 2160h\n"), 0o600))

	for _, tc := range []struct {
		name string
		env  []string
		args []string
		// want is the first line of stderr. A later line may report a
		// setting that is wrong only in relation to the first one.
		want string
	}{
		{
			name: "malformed duration",
			env:  []string{"DAEMONAUTH_RENEWAL_EXTENSION=banana"},
			want: `worker: renewal.extension (DAEMONAUTH_RENEWAL_EXTENSION): "banana" is not a duration such as "72h"` + "\n",
		},
		{
			name: "zero interval",
			env:  []string{"DAEMONAUTH_RENEWAL_INTERVAL=0s"},
			want: "worker: renewal.interval (DAEMONAUTH_RENEWAL_INTERVAL): 0s must be positive\n",
		},
		{
			name: "unknown key in config file",
			args: []string{"--config", configFile},
			want: "worker: unknown key renewal.extention in config file " + configFile +
				" (the keys under renewal are cycles_per_run, extension, interval, jitter, max_idle, max_rejected, min_interval, threshold)\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := tryCommand(append(tc.env, quietMetrics), worker, tc.args...)

			assert.Equal(t, 2, exitCode(err), "an invalid setting exits 2\nstderr:\n%s", stderr)
			assert.Empty(t, stdout, "errors go to stderr only")
			firstLine, _, _ := strings.Cut(stderr, "\n")
			assert.Equal(t, tc.want, firstLine+"\n", "the first line names the key and the fix")
		})
	}
}

func TestWorkerRejectsWrongTemporalAddress(t *testing.T) {
	t.Parallel()
	worker := buildBinary(t, "worker")
	// The database is reachable, so the worker gets as far as Temporal.
	_, databaseURL := testenv.NewDatabase(t)
	// Nothing listens on a port that was free a moment ago.
	port, err := devenv.FreePort()
	require.NoError(t, err)
	address := fmt.Sprintf("127.0.0.1:%d", port)

	started := time.Now()
	stdout, stderr, err := tryCommand([]string{
		"TEMPORAL_ADDRESS=" + address,
		"DAEMONAUTH_DATABASE_URL=" + databaseURL,
		quietMetrics,
	}, worker, "--log-format", "json")
	elapsed := time.Since(started)

	assert.Equal(t, 1, exitCode(err), "a worker that cannot reach Temporal exits 1\nstderr:\n%s", stderr)
	assert.Empty(t, stdout, "logs go to stderr only")
	assert.Contains(t, stderr, `"msg":"Worker not started"`, "the worker logs why it did not start")
	assert.Contains(t, stderr, "connect to Temporal at "+address+" (temporal.address)", "the error names the setting and its value")
	assert.NotContains(t, stderr, "Worker starting", "the worker stops before it polls")
	assert.Equal(t, 1, strings.Count(stderr, `"level":"ERROR"`), "one error logged:\n%s", stderr)
	assert.Less(t, elapsed, time.Minute, "the worker gives up instead of retrying for ever")
	t.Logf("the worker gave up after %s", elapsed.Round(100*time.Millisecond))
}
