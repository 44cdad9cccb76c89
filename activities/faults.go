package activities

import (
	"os"
	"sync"
)

// killAtEnv names the test-only variable that arms faultPoint.
const killAtEnv = "DAEMONAUTH_TEST_KILL_AT"

// killAt is the fault point named by DAEMONAUTH_TEST_KILL_AT, read once.
var killAt = sync.OnceValue(func() string { return os.Getenv(killAtEnv) })

// faultPoint kills the worker process (SIGKILL on Unix) when the variable
// DAEMONAUTH_TEST_KILL_AT equals name, and otherwise does nothing. The
// reliability suite sets it to crash a worker at a step that no outside
// observer can time, such as between a committed renewal and its report to
// Temporal. It is for tests only and off unless the variable is set; unset,
// each call costs one string comparison.
//
// The names in use are "renew-token:after-commit",
// "sync-workspaces:before-commit", "sync-workspaces:after-commit" and
// "ensure-renewal:after-signal".
func faultPoint(name string) {
	if killAt() != name {
		return
	}
	// FindProcess of the process's own id does not fail.
	process, _ := os.FindProcess(os.Getpid())
	if err := process.Kill(); err == nil {
		// Block until the signal lands, so no further step of the caller runs.
		select {}
	}
}
