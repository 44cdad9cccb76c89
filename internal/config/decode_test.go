package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadNamesUndecodableSetting(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		file string
		// want is the whole message, with FILE in place of the config
		// file's path.
		want string
	}{
		{
			name: "duration from the environment",
			env:  map[string]string{"DAEMONAUTH_RENEWAL_EXTENSION": "banana"},
			want: `renewal.extension (DAEMONAUTH_RENEWAL_EXTENSION): "banana" is not a duration such as "72h"`,
		},
		{
			name: "duration without a unit",
			env:  map[string]string{"DAEMONAUTH_RENEWAL_MAX_IDLE": "30"},
			want: `renewal.max_idle (DAEMONAUTH_RENEWAL_MAX_IDLE): "30" is not a duration such as "72h"`,
		},
		{
			name: "duration from the config file",
			file: "renewal:\n  interval: weekly\n",
			want: `renewal.interval (DAEMONAUTH_RENEWAL_INTERVAL): "weekly" is not a duration such as "72h"`,
		},
		{
			name: "huge duration is shortened",
			env:  map[string]string{"DAEMONAUTH_RENEWAL_JITTER": strings.Repeat("9", 10000)},
			want: `renewal.jitter (DAEMONAUTH_RENEWAL_JITTER): "` + strings.Repeat("9", 40) + `"… (10000 bytes) is not a duration such as "72h"`,
		},
		{
			name: "list as a duration",
			file: "renewal:\n  threshold: [168h]\n",
			want: `renewal.threshold (DAEMONAUTH_RENEWAL_THRESHOLD): a list is not a duration such as "72h"`,
		},
		{
			name: "whole number",
			env:  map[string]string{"DAEMONAUTH_RENEWAL_CYCLES_PER_RUN": "hundred-s3cret"},
			want: "renewal.cycles_per_run (DAEMONAUTH_RENEWAL_CYCLES_PER_RUN): must be a whole number such as 100",
		},
		{
			name: "map as a string",
			file: "database:\n  url:\n    user: app\n    password: hunter2\n",
			want: "database.url (DAEMONAUTH_DATABASE_URL): must be a single string, not a map",
		},
		{
			name: "list as a string",
			file: "temporal:\n  address: [a, b]\n",
			want: "temporal.address (DAEMONAUTH_TEMPORAL_ADDRESS): must be a single string, not a list",
		},
		{
			name: "unknown key in a section",
			file: "renewal:\n  extention: 2160h\n",
			want: "unknown key renewal.extention in config file FILE (the keys under renewal are " +
				"cycles_per_run, extension, interval, jitter, max_idle, max_rejected, min_interval, threshold)",
		},
		{
			name: "section given one value",
			file: "log: debug\n",
			want: "log in config file FILE is a string, but it must be a section with the keys format, level",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			for name, value := range tc.env {
				t.Setenv(name, value)
			}
			var args []string
			path := ""
			if tc.file != "" {
				path = writeFile(t, "config.yaml", tc.file)
				args = []string{"--config", path}
			}

			_, err := load(t, args...)

			require.Error(t, err)
			assert.Equal(t, strings.ReplaceAll(tc.want, "FILE", path), err.Error(), "the message names the key, its variable and the fix")
			assert.NotContains(t, err.Error(), "hunter2", "a value that may be secret is never shown")
			assert.NotContains(t, err.Error(), "s3cret", "only a duration's value is shown")
		})
	}
}

func TestLoadNamesUnknownTopLevelKey(t *testing.T) {
	clearEnv(t)
	path := writeFile(t, "config.yaml", "temporl:\n  address: 127.0.0.1:7233\n")

	_, err := load(t, "--config", path)

	require.Error(t, err)
	assert.Contains(t, err.Error(), "unknown key temporl in config file "+path, "the message names the key and the file")
	assert.Contains(t, err.Error(), "the top-level keys are database, log, login_command", "the message lists the valid keys")
}

func TestLoadReportsEveryUndecodableSetting(t *testing.T) {
	clearEnv(t)
	t.Setenv("DAEMONAUTH_RENEWAL_EXTENSION", "banana")
	t.Setenv("DAEMONAUTH_RENEWAL_CYCLES_PER_RUN", "many")
	path := writeFile(t, "config.yaml", "renewal:\n  extention: 1h\n  interval: 1h\n")

	_, err := load(t, "--config", path)

	require.Error(t, err)
	var joined interface{ Unwrap() []error }
	require.True(t, errors.As(err, &joined), "one error per problem, so the worker prints one line each: %v", err)
	var messages []string
	for _, problem := range joined.Unwrap() {
		messages = append(messages, problem.Error())
	}
	assert.Len(t, messages, 3, "problems reported: %q", messages)
	assert.Contains(t, err.Error(), `renewal.extension (DAEMONAUTH_RENEWAL_EXTENSION): "banana"`)
	assert.Contains(t, err.Error(), "renewal.cycles_per_run (DAEMONAUTH_RENEWAL_CYCLES_PER_RUN)")
	assert.Contains(t, err.Error(), "unknown key renewal.extention")
	assert.NotContains(t, err.Error(), "decoding failed", "mapstructure's own heading is replaced")
}
