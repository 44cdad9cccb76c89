package e2e_test

import (
	"bufio"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daemonauth/internal/devenv"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binary returns the path of a program built once per test run, as the
// Makefile builds it.
func binary(t *testing.T, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := devenv.ModuleRoot()
		if err != nil {
			buildErr = err
			return
		}
		binDir, buildErr = osMkdirTemp()
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+"/", "./worker", "./starter")
		cmd.Dir = root
		if output, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, output)
		}
	})
	require.NoError(t, buildErr)
	return filepath.Join(binDir, name)
}

func exitCode(err error) int {
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return exitErr.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}

func TestWorkerRejectsInvalidConfiguration(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{
			name: "extension not above threshold",
			env:  []string{"DAEMONAUTH_RENEWAL_EXTENSION=24h"},
			code: 2,
			want: "renewal.extension (DAEMONAUTH_RENEWAL_EXTENSION): renewal extension 24h0m0s must be longer than the threshold 168h0m0s",
		},
		{
			name: "negative interval",
			env:  []string{"DAEMONAUTH_RENEWAL_INTERVAL=-5m"},
			code: 2,
			want: "renewal.interval (DAEMONAUTH_RENEWAL_INTERVAL): -5m0s must be positive",
		},
		{
			name: "unreachable database",
			env:  []string{"DAEMONAUTH_DATABASE_URL=postgres://app:hunter2@127.0.0.1:1/app?sslmode=disable&connect_timeout=2"},
			code: 1,
			want: "postgres://app:xxxxx@127.0.0.1:1/app",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := tryCommand(tc.env, binary(t, "worker"), tc.args...)

			assert.Equal(t, tc.code, exitCode(err), "exit status\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
			assert.Contains(t, stderr, tc.want, "the error names the key and the problem")
			assert.NotContains(t, stdout+stderr, "hunter2", "the password is never printed")
		})
	}
}

func TestWorkerStopsCleanlyOnSIGTERM(t *testing.T) {
	s := startStack(t)
	cmd := exec.Command(binary(t, "worker"), "--log-format", "json")
	cmd.Env = append(cmd.Environ(),
		"TEMPORAL_ADDRESS="+s.cfg.Temporal.Address,
		"DAEMONAUTH_DATABASE_URL="+s.dbURL,
		"DAEMONAUTH_TEMPORAL_TASK_QUEUE=sigterm-test",
	)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill() })

	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		scanner := bufio.NewScanner(stderr)
		for scanner.Scan() {
			lines <- scanner.Text()
		}
	}()
	waitForLine(t, lines, "Worker starting")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	waitForLine(t, lines, "Worker stopped")
	for range lines {
		// Drain the pipe so Wait can return.
	}
	assert.NoError(t, cmd.Wait(), "the worker exits 0 after SIGTERM")
}

// waitForLine reads lines until one contains text, failing the test if the
// output ends first or nothing matches within a minute.
func waitForLine(t *testing.T, lines <-chan string, text string) {
	t.Helper()
	timeout := time.After(time.Minute)
	var seen []string
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("output ended before %q:\n%s", text, strings.Join(seen, "\n"))
			}
			seen = append(seen, line)
			if strings.Contains(line, text) {
				return
			}
		case <-timeout:
			t.Fatalf("no %q within a minute:\n%s", text, strings.Join(seen, "\n"))
		}
	}
}

func TestStarterHelp(t *testing.T) {
	stdout, stderr, err := tryCommand(nil, binary(t, "starter"), "--help")
	require.NoError(t, err, "starter --help exits 0")
	for _, command := range []string{"migrate", "issue-token", "seed-demo", "start", "status", "stop"} {
		assert.Contains(t, stdout+stderr, "\n  "+command+" ", "the help lists %s", command)
	}

	stdout, stderr, err = tryCommand(nil, binary(t, "starter"), "start", "--help")
	require.NoError(t, err, "starter start --help exits 0")
	assert.Contains(t, stdout+stderr, "Example:\n  starter start --daemon-id", "the command help has an example")
	assert.Contains(t, stdout+stderr, "--token-id", "the command help lists its flags")

	_, stderr, err = tryCommand(nil, binary(t, "starter"), "start", "--daemon-id", "laptop-7", "--token-id", "abc")
	assert.Equal(t, 2, exitCode(err), "a malformed flag value is a usage error")
	assert.Contains(t, stderr, `token_id "abc" is not a UUID`, "the error names the flag's problem")
}

func TestStarterIssuesTokenOnce(t *testing.T) {
	s := startStack(t)
	env := []string{"DAEMONAUTH_DATABASE_URL=" + s.dbURL}

	stdout := runCommand(t, env, binary(t, "starter"), "issue-token", "--email", "grace@example.com", "--expires-in", "720h")

	raw := tokenPattern.FindString(stdout)
	require.NotEmpty(t, raw, "the raw token is printed once:\n%s", stdout)
	var stored, prefix string
	require.NoError(t, s.pool.QueryRow(testContext(t),
		`SELECT token_hash, token_prefix FROM personal_access_token`).Scan(&stored, &prefix))
	assert.Equal(t, sha256Hex(raw), stored, "the database stores the SHA-256 hex of the raw token")
	assert.True(t, strings.HasPrefix(raw, prefix), "token_prefix is the start of the raw token")
	assert.Less(t, len(prefix), len(raw)/2, "token_prefix is too short to be the secret")
}
