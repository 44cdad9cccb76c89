package e2e_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daemonauth"
	"daemonauth/internal/daemonclient"
	"daemonauth/internal/devenv"
	"daemonauth/internal/metrics"
	"daemonauth/internal/seed"
)

// workerProcess is the worker binary, running for one test.
type workerProcess struct {
	cmd   *exec.Cmd
	lines chan string
	// seen holds every line read so far, for failure messages.
	seen []string
}

// startWorkerBinary builds and starts the worker with JSON logs and waits
// until it logs "Worker starting". Its environment is the test's without
// any TEMPORAL_ or DAEMONAUTH_ variable, and with TEMPORAL_CONFIG_FILE
// pointing at a file that does not exist, so that only env and args
// configure it and no temporal CLI profile of the user's applies. The
// worker gets SIGTERM when the test ends.
func startWorkerBinary(t *testing.T, env []string, args ...string) *workerProcess {
	t.Helper()
	cmd := exec.Command(buildBinary(t, "worker"), append([]string{"--log-format", "json"}, args...)...)
	for _, entry := range os.Environ() {
		if !strings.HasPrefix(entry, "TEMPORAL_") && !strings.HasPrefix(entry, "DAEMONAUTH_") {
			cmd.Env = append(cmd.Env, entry)
		}
	}
	cmd.Env = append(cmd.Env, "TEMPORAL_CONFIG_FILE="+filepath.Join(t.TempDir(), "absent.toml"))
	cmd.Env = append(cmd.Env, env...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())

	w := &workerProcess{cmd: cmd, lines: make(chan string, 1000)}
	go func() {
		defer close(w.lines)
		scanner := bufio.NewScanner(stderr)
		for scanner.Scan() {
			w.lines <- scanner.Text()
		}
	}()
	t.Cleanup(func() { w.stop(t) })

	w.waitFor(t, "Worker starting")
	return w
}

// waitFor reads the worker's log until a line contains text and returns
// that line, failing the test if the log ends first or nothing matches
// within a minute.
func (w *workerProcess) waitFor(t *testing.T, text string) string {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case line, ok := <-w.lines:
			if !ok {
				t.Fatalf("worker log ended before %q:\n%s", text, strings.Join(w.seen, "\n"))
			}
			w.seen = append(w.seen, line)
			if strings.Contains(line, text) {
				return line
			}
		case <-timeout:
			t.Fatalf("no %q in the worker log within a minute:\n%s", text, strings.Join(w.seen, "\n"))
		}
	}
}

// stop sends SIGTERM and waits for the worker to exit, killing it after
// 30 seconds.
func (w *workerProcess) stop(t *testing.T) {
	if w.cmd.ProcessState != nil {
		return
	}
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() {
		for range w.lines {
			// Drain the pipe so Wait can return.
		}
		exited <- w.cmd.Wait()
	}()
	select {
	case err := <-exited:
		assert.NoError(t, err, "the worker exits 0 after SIGTERM")
	case <-time.After(30 * time.Second):
		_ = w.cmd.Process.Kill()
		<-exited
		t.Error("the worker did not exit within 30 s of SIGTERM")
	}
}

// scrape fetches the metrics endpoint and parses it.
func scrape(t *testing.T, address string) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	response, err := http.Get("http://" + address + "/metrics")
	require.NoError(t, err, "scrape the worker's metrics")
	defer response.Body.Close()
	body, err := io.ReadAll(response.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, response.StatusCode, "GET /metrics: %s", body)

	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	require.NoError(t, err, "the endpoint serves the Prometheus text format")
	return families, string(body)
}

// sample returns the value of the series of family whose labels include
// labels, and whether it exists.
func sample(families map[string]*dto.MetricFamily, family string, labels map[string]string) (float64, bool) {
	metricFamily, ok := families[family]
	if !ok {
		return 0, false
	}
	for _, metric := range metricFamily.GetMetric() {
		matched := 0
		for _, pair := range metric.GetLabel() {
			if want, ok := labels[pair.GetName()]; ok && want == pair.GetValue() {
				matched++
			}
		}
		if matched != len(labels) {
			continue
		}
		switch {
		case metric.GetCounter() != nil:
			return metric.GetCounter().GetValue(), true
		case metric.GetGauge() != nil:
			return metric.GetGauge().GetValue(), true
		case metric.GetHistogram() != nil:
			return float64(metric.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// secretLabel matches a raw token (mul_ and 40 hex digits) or a SHA-256
// hex digest, such as the token hash the database stores.
var secretLabel = regexp.MustCompile(`mul_[0-9a-f]{40}|[0-9a-f]{64}`)

func TestWorkerServesMetrics(t *testing.T) {
	s := startStack(t)
	ctx := testContext(t)
	port, err := devenv.FreePort()
	require.NoError(t, err)
	metricsAddress := fmt.Sprintf("127.0.0.1:%d", port)
	// Its own task queue, so that the stack's in-process worker runs none
	// of these workflows and every activity is counted by the binary.
	const taskQueue = "metrics-test"
	startWorkerBinary(t, []string{
		"TEMPORAL_ADDRESS=" + s.cfg.Temporal.Address,
		"DAEMONAUTH_DATABASE_URL=" + s.dbURL,
		"DAEMONAUTH_TEMPORAL_TASK_QUEUE=" + taskQueue,
		"DAEMONAUTH_METRICS_ADDRESS=" + metricsAddress,
	})

	userID := s.seedUser(t)
	due := s.issueToken(t, userID, seed.TokenSpec{ExpiresIn: seed.Days(3)})
	revoked := s.issueToken(t, userID, seed.TokenSpec{ExpiresIn: seed.Days(30), Revoked: true})

	started, err := daemonclient.StartDaemon(ctx, s.client, taskQueue,
		daemonauth.DaemonStartupInput{DaemonID: "metrics-due", TokenID: due.ID})
	require.NoError(t, err)
	require.Equal(t, daemonauth.OutcomeRenewed, started.Renewal.Outcome)
	require.NotNil(t, started.Renewal.ExpiresAt)
	_, err = daemonclient.StartDaemon(ctx, s.client, taskQueue,
		daemonauth.DaemonStartupInput{DaemonID: "metrics-revoked", TokenID: revoked.ID})
	require.Error(t, err, "a start-up with a revoked token fails")

	families, body := scrape(t, metricsAddress)

	for outcome, want := range map[string]float64{
		daemonauth.OutcomeRenewed:      1,
		daemonauth.OutcomeRejected:     1,
		daemonauth.OutcomeNotDue:       0,
		daemonauth.OutcomeNeverExpires: 0,
		daemonauth.OutcomeIdle:         0,
		daemonauth.OutcomeFailed:       0,
	} {
		value, ok := sample(families, metrics.TokenRenewalsName, map[string]string{"outcome": outcome})
		if assert.True(t, ok, "%s has a series for outcome %s", metrics.TokenRenewalsName, outcome) {
			assert.Equal(t, want, value, "%s{outcome=%q}", metrics.TokenRenewalsName, outcome)
		}
	}

	expiry, ok := sample(families, metrics.TokenExpiryName, map[string]string{"daemon_id": "metrics-due"})
	if assert.True(t, ok, "%s has a series for the renewed daemon", metrics.TokenExpiryName) {
		assert.InDelta(t, float64(started.Renewal.ExpiresAt.UnixMilli())/1000, expiry, 0.001,
			"the gauge is the renewed expiry as a Unix time in seconds")
	}
	_, ok = sample(families, metrics.TokenExpiryName, map[string]string{"daemon_id": "metrics-revoked"})
	assert.False(t, ok, "a rejected token has no expiry series")

	for outcome, want := range map[string]float64{"synced": 1, "rejected": 1, "failed": 0} {
		value, ok := sample(families, metrics.WorkspaceSyncsName, map[string]string{"outcome": outcome})
		if assert.True(t, ok, "%s has a series for outcome %s", metrics.WorkspaceSyncsName, outcome) {
			assert.Equal(t, want, value, "%s{outcome=%q}", metrics.WorkspaceSyncsName, outcome)
		}
	}
	added, ok := sample(families, metrics.WorkspacesAddedName, nil)
	assert.True(t, ok, "%s is exported", metrics.WorkspacesAddedName)
	assert.Equal(t, 2.0, added, "the renewed daemon was registered for both of its user's workspaces")
	removed, ok := sample(families, metrics.WorkspacesRemovedName, nil)
	assert.True(t, ok, "%s is exported", metrics.WorkspacesRemovedName)
	assert.Equal(t, 0.0, removed)

	// The SDK's own metrics, through its OpenTelemetry handler.
	completed, ok := sample(families, "temporal_workflow_completed_total", map[string]string{"workflow_type": daemonauth.WorkflowDaemonStartup})
	assert.True(t, ok, "the SDK counts completed workflows")
	assert.Equal(t, 1.0, completed, "one DaemonStartup completed; the other failed")
	failed, ok := sample(families, "temporal_workflow_failed_total", map[string]string{"workflow_type": daemonauth.WorkflowDaemonStartup})
	assert.True(t, ok, "the SDK counts failed workflows")
	assert.Equal(t, 1.0, failed, "the start-up with the revoked token failed")
	executions, ok := sample(families, "temporal_activity_execution_latency_seconds", map[string]string{"activity_type": daemonauth.ActivityRenewToken})
	assert.True(t, ok, "the SDK times activities, in seconds")
	assert.Equal(t, 2.0, executions, "RenewToken ran once per start-up")

	for _, family := range families {
		for _, metric := range family.GetMetric() {
			for _, pair := range metric.GetLabel() {
				assert.False(t, secretLabel.MatchString(pair.GetValue()),
					"%s has label %s=%q, which looks like a token or its hash", family.GetName(), pair.GetName(), pair.GetValue())
			}
		}
	}
	for _, secret := range []string{due.Raw, revoked.Raw, sha256Hex(due.Raw), sha256Hex(revoked.Raw), due.ID, revoked.ID} {
		assert.NotContains(t, body, secret, "the metrics never show a token, its hash or its id")
	}

	for _, daemonID := range []string{"metrics-due", "metrics-revoked"} {
		_, err := daemonclient.StopRenewal(ctx, s.client, daemonID, "")
		require.NoError(t, err)
	}
}

func TestWorkerMetricsDisabled(t *testing.T) {
	s := startStack(t)
	worker := startWorkerBinary(t, []string{
		"TEMPORAL_ADDRESS=" + s.cfg.Temporal.Address,
		"DAEMONAUTH_DATABASE_URL=" + s.dbURL,
		"DAEMONAUTH_TEMPORAL_TASK_QUEUE=metrics-disabled-test",
	}, "--metrics-address=")

	for _, line := range worker.seen {
		assert.NotContains(t, line, "Serving metrics", "an empty --metrics-address serves no metrics")
	}
	var starting map[string]any
	require.NoError(t, json.Unmarshal([]byte(worker.seen[len(worker.seen)-1]), &starting))
	assert.Equal(t, "", starting["metrics_address"], "the start-up log shows that no metrics are served")
}

func TestWorkerRejectsBadMetricsAddress(t *testing.T) {
	t.Parallel()
	worker := buildBinary(t, "worker")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { busy.Close() })
	for _, tc := range []struct {
		name    string
		address string
		code    int
		want    string
	}{
		{
			name:    "not host:port",
			address: "9464",
			code:    2,
			want:    `metrics.address (DAEMONAUTH_METRICS_ADDRESS): "9464" is not a host:port such as 127.0.0.1:9464`,
		},
		{
			name:    "port in use",
			address: busy.Addr().String(),
			code:    1,
			want:    "listen for metrics on " + busy.Addr().String() + " (metrics.address)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The listener fails before the worker connects anywhere, so
			// the unreachable database is never tried.
			env := []string{
				"DAEMONAUTH_METRICS_ADDRESS=" + tc.address,
				"DAEMONAUTH_DATABASE_URL=postgres://app@127.0.0.1:1/app?sslmode=disable&connect_timeout=2",
				"TEMPORAL_CONFIG_FILE=" + filepath.Join(t.TempDir(), "absent.toml"),
			}
			stdout, stderr, err := tryCommand(env, worker)

			assert.Equal(t, tc.code, exitCode(err), "exit status\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
			assert.Contains(t, stderr, tc.want, "the error names the setting and the problem")
			assert.NotContains(t, stderr, "127.0.0.1:1/app", "the worker stops before it connects to the database")
		})
	}
}
