package main_test

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daemonauth/internal/devenv"
)

// TestDemoOnce runs the demo as `DEMO_ONCE=1 make demo` does, on free
// ports, with binaries built as the Makefile builds them.
func TestDemoOnce(t *testing.T) {
	root, err := devenv.ModuleRoot()
	require.NoError(t, err)
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "./worker", "./demo")
	build.Dir = root
	output, err := build.CombinedOutput()
	require.NoError(t, err, "build the demo:\n%s", output)

	temporalPort, err := devenv.FreePort()
	require.NoError(t, err)
	uiPort, err := devenv.FreePort()
	require.NoError(t, err)

	demo := exec.Command(filepath.Join(bin, "demo"), "--temporal-port", strconv.Itoa(temporalPort), "--ui-port", strconv.Itoa(uiPort))
	demo.Env = append(demo.Environ(), "DEMO_ONCE=1")
	out, err := demo.CombinedOutput()
	text := string(out)
	require.NoError(t, err, "the demo exits 0 when every outcome is expected:\n%s", text)

	assert.Regexp(t, `laptop-due\s+renewed, now expires`, text, "the daemon inside the window is renewed")
	assert.Regexp(t, `laptop-healthy\s+not due`, text, "the healthy daemon is not due")
	assert.Regexp(t, `laptop-revoked\s+rejected: token revoked\s+yes: multica login --profile work`, text,
		"the revoked daemon must log in again, with its profile")
	assert.Contains(t, text, `command="multica login --profile work"`, "the worker's warning is shown")
	assert.Contains(t, text, "http://127.0.0.1:"+strconv.Itoa(uiPort)+"/namespaces/default/workflows", "the Web UI address")
	assert.Contains(t, text, "workflow show --address 127.0.0.1:"+strconv.Itoa(temporalPort), "the history command")
	assert.Contains(t, text, `--query 'NeedsRelogin = true AND ExecutionStatus = "Running"'`, "the list command for daemons that must log in")
	assert.Regexp(t, `Running\s+token-renewal-laptop-revoked`, text, "the list finds the revoked daemon's renewal")
	assert.NotContains(t, text, "token-renewal-laptop-healthy\n", "a healthy daemon is not listed")
	assert.Contains(t, text, "Database: postgres://postgres@127.0.0.1:", "the demo database URL")
	assert.NotRegexp(t, `mul_[0-9a-f]{40}`, text, "the demo output holds no raw token")
}
