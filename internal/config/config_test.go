package config_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daemonauth/internal/config"
)

// clearEnv blanks every variable the configuration reads, so the machine's
// environment cannot leak into a test. Viper treats an empty variable as
// unset.
func clearEnv(t *testing.T) {
	for _, name := range []string{
		"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE",
		"DAEMONAUTH_TEMPORAL_ADDRESS", "DAEMONAUTH_TEMPORAL_NAMESPACE", "DAEMONAUTH_TEMPORAL_TASK_QUEUE",
		"DAEMONAUTH_DATABASE_URL", "DAEMONAUTH_RENEWAL_EXTENSION", "DAEMONAUTH_RENEWAL_THRESHOLD",
		"DAEMONAUTH_RENEWAL_INTERVAL", "DAEMONAUTH_RENEWAL_CYCLES_PER_RUN",
		"DAEMONAUTH_LOG_LEVEL", "DAEMONAUTH_LOG_FORMAT", "DAEMONAUTH_LOGIN_COMMAND",
	} {
		t.Setenv(name, "")
	}
	// A developer's own temporal CLI profile must not leak in either.
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "absent.toml"))
	t.Setenv("TEMPORAL_PROFILE", "")
	t.Setenv("DAEMONAUTH_METRICS_ADDRESS", "")
}

func load(t *testing.T, args ...string) (config.Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	config.AddFlags(fs)
	require.NoError(t, fs.Parse(args))
	return config.Load(fs)
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestLoadDefaults(t *testing.T) {
	clearEnv(t)

	cfg, err := load(t)

	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:7233", cfg.Temporal.Address, "default address is loopback")
	assert.Equal(t, "default", cfg.Temporal.Namespace)
	assert.Equal(t, "daemon-auth", cfg.Temporal.TaskQueue)
	assert.Equal(t, 90*24*time.Hour, cfg.Renewal.Extension)
	assert.Equal(t, 7*24*time.Hour, cfg.Renewal.Threshold)
	assert.Equal(t, 7*24*time.Hour, cfg.Renewal.Interval, "check a token at least weekly")
	assert.Equal(t, time.Hour, cfg.Renewal.MinInterval)
	assert.Equal(t, 6*time.Hour, cfg.Renewal.Jitter)
	assert.Equal(t, 14*24*time.Hour, cfg.Renewal.MaxRejected)
	assert.Equal(t, 30*24*time.Hour, cfg.Renewal.MaxIdle)
	assert.Equal(t, "multica login", cfg.LoginCommand)
}

func TestLoadPrecedence(t *testing.T) {
	clearEnv(t)
	file := writeFile(t, "config.yaml", "temporal:\n  address: file.local:7233\n  namespace: from-file\nrenewal:\n  interval: 48h\n")

	fromFile, err := load(t, "--config", file)
	require.NoError(t, err)
	assert.Equal(t, "file.local:7233", fromFile.Temporal.Address, "the file overrides the default")
	assert.Equal(t, 48*time.Hour, fromFile.Renewal.Interval, "durations are parsed from the file")

	t.Setenv("TEMPORAL_ADDRESS", "env.local:7233")
	t.Setenv("TEMPORAL_NAMESPACE", "from-env")
	fromEnv, err := load(t, "--config", file)
	require.NoError(t, err)
	assert.Equal(t, "env.local:7233", fromEnv.Temporal.Address, "TEMPORAL_ADDRESS overrides the file")
	assert.Equal(t, "from-env", fromEnv.Temporal.Namespace, "TEMPORAL_NAMESPACE overrides the file")

	fromFlag, err := load(t, "--config", file, "--temporal-address", "flag.local:7233")
	require.NoError(t, err)
	assert.Equal(t, "flag.local:7233", fromFlag.Temporal.Address, "the flag overrides the environment")
}

func TestLoadProjectEnvironment(t *testing.T) {
	clearEnv(t)
	t.Setenv("DAEMONAUTH_RENEWAL_INTERVAL", "1h")
	t.Setenv("DAEMONAUTH_TEMPORAL_TASK_QUEUE", "other-queue")

	cfg, err := load(t)

	require.NoError(t, err)
	assert.Equal(t, time.Hour, cfg.Renewal.Interval)
	assert.Equal(t, "other-queue", cfg.Temporal.TaskQueue)
}

func TestLoadRejectsInvalidSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{name: "extension not above threshold", env: map[string]string{"DAEMONAUTH_RENEWAL_EXTENSION": "24h", "DAEMONAUTH_RENEWAL_THRESHOLD": "48h"}, want: "renewal.extension (DAEMONAUTH_RENEWAL_EXTENSION)"},
		{name: "negative interval", env: map[string]string{"DAEMONAUTH_RENEWAL_INTERVAL": "-1h"}, want: "renewal.interval (DAEMONAUTH_RENEWAL_INTERVAL)"},
		{name: "zero threshold", env: map[string]string{"DAEMONAUTH_RENEWAL_THRESHOLD": "0s"}, want: "renewal.threshold (DAEMONAUTH_RENEWAL_THRESHOLD): 0s must be positive"},
		{name: "zero cycles", env: map[string]string{"DAEMONAUTH_RENEWAL_CYCLES_PER_RUN": "0"}, want: "renewal.cycles_per_run"},
		{name: "log level", env: map[string]string{"DAEMONAUTH_LOG_LEVEL": "verbose"}, want: `log.level (DAEMONAUTH_LOG_LEVEL): "verbose"`},
		{name: "database URL", env: map[string]string{"DAEMONAUTH_DATABASE_URL": "postgres://u:secret@[::1"}, want: "database.url"},
		{name: "interval not a duration", env: map[string]string{"DAEMONAUTH_RENEWAL_INTERVAL": "three days"}, want: "renewal.interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			for name, value := range tc.env {
				t.Setenv(name, value)
			}

			_, err := load(t)

			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want, "the error names the key")
			assert.NotContains(t, err.Error(), "secret", "the error never shows a password")
		})
	}
}

func TestLoadRejectsUnknownKey(t *testing.T) {
	clearEnv(t)
	file := writeFile(t, "config.yaml", "renewal:\n  extention: 2160h\n")

	_, err := load(t, "--config", file)

	require.Error(t, err)
	assert.Contains(t, err.Error(), "extention", "the error names the misspelt key")
}

func TestLoadMissingConfigFile(t *testing.T) {
	clearEnv(t)

	_, err := load(t, "--config", filepath.Join(t.TempDir(), "absent.yaml"))

	require.Error(t, err)
	assert.Contains(t, err.Error(), "absent.yaml", "the error names the file")
}

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://app:s3cret@db.local:5432/app?sslmode=disable", "postgres://app:xxxxx@db.local:5432/app?sslmode=disable"},
		{"postgres://app@db.local/app?password=s3cret", "postgres://app@db.local/app?password=xxxxx"},
		{"host=db.local user=app password=s3cret dbname=app", "host=db.local user=app password=xxxxx dbname=app"},
		{"postgres://app@127.0.0.1/app", "postgres://app@127.0.0.1/app"},
	} {
		assert.Equal(t, tc.want, config.RedactURL(tc.in))
	}
}
