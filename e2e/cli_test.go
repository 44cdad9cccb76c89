package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daemonauth"
	"daemonauth/internal/devenv"
	"daemonauth/internal/seed"
)

// runCommand runs a binary and returns its standard output, failing the
// test with both outputs when it exits non-zero.
func runCommand(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	stdout, stderr, err := tryCommand(env, name, args...)
	require.NoError(t, err, "%s %s\nstdout:\n%s\nstderr:\n%s", filepath.Base(name), strings.Join(args, " "), stdout, stderr)
	return stdout
}

func tryCommand(env []string, name string, args ...string) (string, string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

func temporalCLI(t *testing.T) string {
	t.Helper()
	path, err := devenv.FindTemporalCLI()
	require.NoError(t, err)
	return path
}

// buildStarter builds the starter binary as a user would run it.
func buildStarter(t *testing.T) string {
	t.Helper()
	root, err := devenv.ModuleRoot()
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "starter")
	cmd := exec.Command("go", "build", "-o", path, "./starter")
	cmd.Dir = root
	output, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build ./starter:\n%s", output)
	return path
}

// The README documents this exact command line and JSON.
func readmeStartArgs(address, taskQueue, daemonID, tokenID string) []string {
	input := fmt.Sprintf(`{"daemon_id": %q, "token_id": %q, "profile": "work"}`, daemonID, tokenID)
	return []string{"workflow", "start", "--address", address,
		"--type", daemonauth.WorkflowDaemonStartup, "--task-queue", taskQueue,
		"--workflow-id", daemonauth.StartupWorkflowID(daemonID), "--input", input}
}

func TestCLIStartMatchesStarter(t *testing.T) {
	s := startStack(t)
	userID := s.seedUser(t)
	token := s.issueToken(t, userID, seed.TokenSpec{ExpiresIn: seed.Days(60)})
	cli := temporalCLI(t)
	address := s.cfg.Temporal.Address
	daemonID := "cli-laptop"

	runCommand(t, nil, cli, readmeStartArgs(address, s.cfg.Temporal.TaskQueue, daemonID, token.ID)...)
	cliOutput := runCommand(t, nil, cli, "workflow", "result", "--address", address,
		"--workflow-id", daemonauth.StartupWorkflowID(daemonID), "--output", "json")

	var cliResult struct {
		Status string                         `json:"status"`
		Result daemonauth.DaemonStartupResult `json:"result"`
	}
	require.NoError(t, json.Unmarshal([]byte(cliOutput), &cliResult), "decode the CLI's result:\n%s", cliOutput)
	assert.Equal(t, "COMPLETED", cliResult.Status, "CLI result status")

	starterOutput := runCommand(t, []string{
		"TEMPORAL_ADDRESS=" + address,
		"DAEMONAUTH_DATABASE_URL=" + s.dbURL,
		"DAEMONAUTH_TEMPORAL_TASK_QUEUE=" + s.cfg.Temporal.TaskQueue,
	}, buildStarter(t), "start", "--daemon-id", daemonID, "--token-id", token.ID, "--profile", "work", "--json")
	var starterResult daemonauth.DaemonStartupResult
	require.NoError(t, json.Unmarshal([]byte(starterOutput), &starterResult), "decode the starter's result:\n%s", starterOutput)

	assert.Equal(t, daemonauth.OutcomeNotDue, cliResult.Result.Renewal.Outcome, "renewal outcome through the CLI")
	assert.Equal(t, starterResult.Renewal.Outcome, cliResult.Result.Renewal.Outcome, "renewal outcome")
	require.NotNil(t, cliResult.Result.Renewal.ExpiresAt)
	require.NotNil(t, starterResult.Renewal.ExpiresAt)
	assert.True(t, starterResult.Renewal.ExpiresAt.Equal(*cliResult.Result.Renewal.ExpiresAt), "expiry")
	assert.Equal(t, starterResult.Workspaces, cliResult.Result.Workspaces, "workspaces")
	assert.Equal(t, starterResult.NeedsRelogin, cliResult.Result.NeedsRelogin, "needs_relogin")
	assert.Equal(t, starterResult.RenewalWorkflowID, cliResult.Result.RenewalWorkflowID, "renewal workflow")
	assert.Equal(t, 2, cliResult.Result.WorkspacesAdded, "the first start-up registers both workspaces")
	assert.Equal(t, 0, starterResult.WorkspacesAdded, "the second start-up adds nothing")

	runCommand(t, nil, cli, "workflow", "signal", "--address", address,
		"--workflow-id", daemonauth.RenewalWorkflowID(daemonID), "--name", daemonauth.SignalStop, "--input", `{"reason":"test done"}`)
	stopOutput := runCommand(t, nil, cli, "workflow", "result", "--address", address,
		"--workflow-id", daemonauth.RenewalWorkflowID(daemonID), "--output", "json")
	assert.Contains(t, stopOutput, "stop signal: test done", "the CLI's stop signal ends the renewal")
}

func TestCLIInvalidInputFailsFast(t *testing.T) {
	s := startStack(t)
	cli := temporalCLI(t)
	address := s.cfg.Temporal.Address

	for i, tc := range []struct {
		name  string
		input string
		want  string
	}{
		{name: "empty object", input: `{}`, want: "daemon_id is missing"},
		{name: "missing token", input: `{"daemon_id":"laptop-7"}`, want: "token_id is missing"},
		{name: "token not UUID", input: `{"daemon_id":"laptop-7","token_id":"laptop-7-token"}`, want: "token_id \"laptop-7-token\" is not a UUID"},
		{name: "raw token as id", input: `{"daemon_id":"laptop-7","token_id":"mul_0123456789abcdef0123456789abcdef01234567"}`, want: "token_id looks like a raw token"},
		{name: "unknown field", input: `{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d","tokn":"x"}`, want: `unknown field "tokn"`},
		{name: "wrong type", input: `{"daemon_id":7,"token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d"}`, want: "daemon_id must be a JSON string, got a JSON number"},
		{name: "huge string", input: `{"daemon_id":"` + strings.Repeat("a", 100000) + `","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d"}`, want: "(100000 bytes)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			workflowID := fmt.Sprintf("invalid-input-%d", i)
			stdout, stderr, err := tryCommand(nil, cli, "workflow", "execute", "--address", address,
				"--type", daemonauth.WorkflowDaemonStartup, "--task-queue", s.cfg.Temporal.TaskQueue,
				"--workflow-id", workflowID, "--input", tc.input)
			require.Error(t, err, "the CLI reports the failed workflow")
			assert.Contains(t, stdout+stderr, tc.want, "the CLI shows the validation error")

			describe := runCommand(t, nil, cli, "workflow", "describe", "--address", address, "--workflow-id", workflowID, "--output", "json")
			assert.Contains(t, describe, "WORKFLOW_EXECUTION_STATUS_FAILED", "the workflow failed instead of retrying")

			history := runCommand(t, nil, cli, "workflow", "show", "--address", address, "--workflow-id", workflowID, "--output", "json")
			assert.NotContains(t, history, "EVENT_TYPE_WORKFLOW_TASK_FAILED", "no workflow task failed and retried")
			assert.Contains(t, history, daemonauth.ErrTypeInvalidInput, "the failure has the InvalidInput type")
			assert.Contains(t, history, `"nonRetryable": true`, "the failure is non-retryable")
		})
	}
}
