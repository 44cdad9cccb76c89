package e2e_test

import (
	"bufio"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daemonauth/internal/devenv"
)

// buildBinary builds ./name as the Makefile does, into a folder that is
// removed when the test ends. Each test builds its own copy, because a
// folder shared by the package's tests could only be removed by TestMain.
// With the build cache warm, a rebuild compiles nothing and only links.
func buildBinary(t *testing.T, name string) string {
	t.Helper()
	root, err := devenv.ModuleRoot()
	require.NoError(t, err)
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+"/", "./"+name)
	cmd.Dir = root
	output, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build ./%s:\n%s", name, output)
	return filepath.Join(dir, name)
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
	t.Parallel()
	worker := buildBinary(t, "worker")
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
			stdout, stderr, err := tryCommand(tc.env, worker, tc.args...)

			assert.Equal(t, tc.code, exitCode(err), "exit status\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
			assert.Contains(t, stderr, tc.want, "the error names the key and the problem")
			assert.NotContains(t, stdout+stderr, "hunter2", "the password is never printed")
		})
	}
}

func TestWorkerHelp(t *testing.T) {
	t.Parallel()
	worker := buildBinary(t, "worker")
	for _, flag := range []string{"--help", "-h"} {
		stdout, stderr, err := tryCommand(nil, worker, flag)

		assert.Equal(t, 0, exitCode(err), "worker %s exits 0\nstderr:\n%s", flag, stderr)
		assert.True(t, strings.HasPrefix(stdout, "Usage: worker [flags]\n"), "worker %s prints the help to stdout:\n%s", flag, stdout)
		assert.Contains(t, stdout, "--migrate", "worker %s lists the flags", flag)
		assert.Empty(t, stderr, "worker %s prints nothing to stderr", flag)
	}
}

func TestWorkerRejectsUsageErrors(t *testing.T) {
	t.Parallel()
	worker := buildBinary(t, "worker")
	// Without the argument checks the worker would start, so give it a
	// database that fails at once instead of the default one.
	env := []string{"DAEMONAUTH_DATABASE_URL=postgres://app@127.0.0.1:1/app?sslmode=disable&connect_timeout=2"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{name: "unknown flag", args: []string{"--bogus"}, want: "worker: unknown flag: --bogus\n"},
		{name: "invalid boolean", args: []string{"--migrate=maybe"}, want: `worker: invalid argument "maybe" for "--migrate" flag`},
		{name: "missing flag value", args: []string{"--log-level"}, want: "worker: flag needs an argument: --log-level\n"},
		{name: "extra argument", args: []string{"extra-arg"}, want: "worker: unexpected argument \"extra-arg\"\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := tryCommand(env, worker, tc.args...)

			assert.Equal(t, 2, exitCode(err), "a usage error exits 2\nstderr:\n%s", stderr)
			assert.Empty(t, stdout, "errors go to stderr only")
			assert.Contains(t, stderr, tc.want, "stderr names the problem")
			assert.True(t, strings.HasSuffix(stderr, "\nRun \"worker --help\" for usage.\n"), "stderr ends with the help hint:\n%s", stderr)
		})
	}
}

func TestWorkerStopsCleanlyOnSIGTERM(t *testing.T) {
	s := startStack(t)
	cmd := exec.Command(buildBinary(t, "worker"), "--log-format", "json")
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
	t.Parallel()
	starter := buildBinary(t, "starter")

	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		stdout, stderr, err := tryCommand(nil, starter, args...)
		require.Equal(t, 0, exitCode(err), "starter %s exits 0\nstderr:\n%s", args[0], stderr)
		assert.Empty(t, stderr, "starter %s prints nothing to stderr", args[0])
		for _, command := range []string{"migrate", "issue-token", "seed-demo", "start", "status", "stop"} {
			assert.Contains(t, stdout, "\n  "+command+" ", "starter %s lists %s on stdout", args[0], command)
		}
	}

	stdout, stderr, err := tryCommand(nil, starter, "start", "--help")
	require.Equal(t, 0, exitCode(err), "starter start --help exits 0\nstderr:\n%s", stderr)
	assert.Empty(t, stderr, "starter start --help prints nothing to stderr")
	assert.True(t, strings.HasPrefix(stdout, "Usage: starter start [flags]\n"), "the command help goes to stdout:\n%s", stdout)
	assert.Contains(t, stdout, "Example:\n  starter start --daemon-id", "the command help has an example")
	assert.Contains(t, stdout, "--token-id", "the command help lists its flags")

	helpStart, stderr, err := tryCommand(nil, starter, "help", "start")
	require.Equal(t, 0, exitCode(err), "starter help start exits 0\nstderr:\n%s", stderr)
	assert.Equal(t, stdout, helpStart, "starter help start prints the same help as starter start --help")

	stdout, stderr, err = tryCommand(nil, starter)
	assert.Equal(t, 2, exitCode(err), "starter without a command is a usage error")
	assert.Empty(t, stdout, "help that was not asked for goes to stderr")
	assert.Contains(t, stderr, "Usage: starter COMMAND [flags]", "starter without a command shows the help")
}

func TestStarterRejectsUsageErrors(t *testing.T) {
	t.Parallel()
	starter := buildBinary(t, "starter")
	const startHint = "Run \"starter start --help\" for usage.\n"
	for _, tc := range []struct {
		name string
		args []string
		// want is the whole of stderr. Where pflag words the reason,
		// wantStart and wantEnd check the text around it instead.
		want      string
		wantStart string
		wantEnd   string
	}{
		{
			name: "unknown flag",
			args: []string{"start", "--tokenid", "x"},
			want: "starter start: unknown flag: --tokenid\n" + startHint,
		},
		{
			name:      "invalid boolean",
			args:      []string{"start", "--json=maybe"},
			wantStart: `starter start: invalid argument "maybe" for "--json" flag`,
			wantEnd:   startHint,
		},
		{
			name:      "duration without unit",
			args:      []string{"issue-token", "--expires-in", "3"},
			wantStart: `starter issue-token: invalid argument "3" for "--expires-in" flag`,
			wantEnd:   "Run \"starter issue-token --help\" for usage.\n",
		},
		{
			name: "missing flags",
			args: []string{"start"},
			want: "starter start: --daemon-id is required\nstarter start: --token-id is required\n" + startHint,
		},
		{
			name: "invalid flags",
			args: []string{"start", "--daemon-id", "laptop 7", "--token-id", "abc"},
			want: `starter start: --daemon-id "laptop 7" is invalid: use 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit` + "\n" +
				`starter start: --token-id "abc" is not a UUID such as "0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d"` + "\n" + startHint,
		},
		{
			name: "extra argument",
			args: []string{"status", "laptop-7"},
			want: "starter status: unexpected argument \"laptop-7\"\nRun \"starter status --help\" for usage.\n",
		},
		{
			name: "unknown command",
			args: []string{"launch"},
			want: "starter: unknown command \"launch\"\nRun \"starter --help\" for the list of commands.\n",
		},
		{
			name: "help for unknown command",
			args: []string{"help", "launch"},
			want: "starter help: unknown command \"launch\"\nRun \"starter --help\" for the list of commands.\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := tryCommand(nil, starter, tc.args...)

			assert.Equal(t, 2, exitCode(err), "a usage error exits 2\nstderr:\n%s", stderr)
			assert.Empty(t, stdout, "errors go to stderr only")
			if tc.want != "" {
				assert.Equal(t, tc.want, stderr, "stderr")
				return
			}
			assert.True(t, strings.HasPrefix(stderr, tc.wantStart), "stderr starts with %q:\n%s", tc.wantStart, stderr)
			assert.True(t, strings.HasSuffix(stderr, "\n"+tc.wantEnd), "stderr ends with %q:\n%s", tc.wantEnd, stderr)
			assert.Equal(t, 2, strings.Count(stderr, "\n"), "stderr has one line for the problem and one for the hint:\n%s", stderr)
		})
	}
}

func TestStarterIssuesTokenOnce(t *testing.T) {
	s := startStack(t)
	env := []string{"DAEMONAUTH_DATABASE_URL=" + s.dbURL}

	stdout := runCommand(t, env, buildBinary(t, "starter"), "issue-token", "--email", "grace@example.com", "--expires-in", "720h")

	raw := tokenPattern.FindString(stdout)
	require.NotEmpty(t, raw, "the raw token is printed once:\n%s", stdout)
	var stored, prefix string
	require.NoError(t, s.pool.QueryRow(testContext(t),
		`SELECT token_hash, token_prefix FROM personal_access_token`).Scan(&stored, &prefix))
	assert.Equal(t, sha256Hex(raw), stored, "the database stores the SHA-256 hex of the raw token")
	assert.True(t, strings.HasPrefix(raw, prefix), "token_prefix is the start of the raw token")
	assert.Less(t, len(prefix), len(raw)/2, "token_prefix is too short to be the secret")
}
