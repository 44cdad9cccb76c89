package daemonauth_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daemonauth"
)

const validTokenID = "0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d"

func TestDaemonStartupInputDecode(t *testing.T) {
	for _, tc := range []struct {
		name string
		json string
		want string // empty for a valid input
	}{
		{name: "valid", json: `{"daemon_id":"laptop-7","token_id":"` + validTokenID + `","profile":"work"}`},
		{name: "valid without profile", json: `{"daemon_id":"laptop-7","token_id":"` + validTokenID + `"}`},
		{name: "unknown field", json: `{"daemon_id":"laptop-7","token_id":"` + validTokenID + `","extra":1}`, want: `unknown field "extra"`},
		{name: "wrong type", json: `{"daemon_id":["a"],"token_id":"` + validTokenID + `"}`, want: "daemon_id must be a JSON string, got a JSON array"},
		{name: "null", json: `null`, want: "daemon_id is missing"},
		{name: "both missing", json: `{}`, want: "daemon_id is missing\ntoken_id is missing"},
		{name: "uppercase UUID", json: `{"daemon_id":"a","token_id":"` + strings.ToUpper(validTokenID) + `"}`},
		{name: "UUID without dashes", json: `{"daemon_id":"a","token_id":"0b7e5c1a3f0e4c529d7a2a1f4e8b6c3d"}`, want: "is not a UUID"},
		{name: "daemon starting with dash", json: `{"daemon_id":"-rf","token_id":"` + validTokenID + `"}`, want: "daemon_id \"-rf\" is invalid"},
		{name: "profile with space", json: `{"daemon_id":"a","token_id":"` + validTokenID + `","profile":"a b"}`, want: "profile \"a b\" is invalid"},
		{name: "login command with newline", json: `{"daemon_id":"a","token_id":"` + validTokenID + `","login_command":"login\nrm"}`, want: "login_command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var input daemonauth.DaemonStartupInput
			require.NoError(t, json.Unmarshal([]byte(tc.json), &input), "decoding never fails; Validate reports problems")

			err := input.Validate()

			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestValidateShortensHugeValues(t *testing.T) {
	input := daemonauth.DaemonStartupInput{DaemonID: strings.Repeat("x", 1<<20), TokenID: validTokenID}

	err := input.Validate()

	require.Error(t, err)
	assert.Less(t, len(err.Error()), 300, "a huge value is not copied whole into the error")
	assert.Contains(t, err.Error(), "(1048576 bytes)", "the error says how long the value was")
}

func TestTokenRenewalInputSchedule(t *testing.T) {
	input := daemonauth.TokenRenewalInput{DaemonID: "a", TokenID: validTokenID}
	require.NoError(t, input.Validate())
	assert.Equal(t, daemonauth.RenewalSchedule{
		MaxInterval: daemonauth.DefaultRenewalInterval,
		MinInterval: daemonauth.DefaultMinInterval,
		Threshold:   daemonauth.DefaultThreshold,
		Jitter:      daemonauth.DefaultJitter,
	}, input.Schedule(), "empty fields take the defaults and leave the end rules off")

	input.Interval, input.MinInterval, input.Jitter, input.MaxIdle = "90m", "1m", "0s", "720h"
	require.NoError(t, input.Validate())
	schedule := input.Schedule()
	assert.Equal(t, 90*time.Minute, schedule.MaxInterval)
	assert.Equal(t, time.Minute, schedule.MinInterval)
	assert.Equal(t, time.Duration(0), schedule.Jitter, "0s turns the jitter off")
	assert.Equal(t, 720*time.Hour, schedule.MaxIdle)
}

func TestTokenRenewalInputScheduleInvalid(t *testing.T) {
	for _, tc := range []struct {
		name  string
		apply func(*daemonauth.TokenRenewalInput)
		want  string
	}{
		{"zero interval", func(in *daemonauth.TokenRenewalInput) { in.Interval = "0s" }, `interval "0s" must be positive`},
		{"interval not a duration", func(in *daemonauth.TokenRenewalInput) { in.Interval = "weekly" }, `interval "weekly" is not a duration`},
		{"min above max", func(in *daemonauth.TokenRenewalInput) { in.MinInterval = "2h"; in.Interval = "1h" }, "min_interval 2h0m0s must not be longer than interval 1h0m0s"},
		{"jitter beyond window", func(in *daemonauth.TokenRenewalInput) { in.Jitter = "200h" }, "jitter 200h0m0s must be shorter than threshold 168h0m0s"},
		{"negative idle", func(in *daemonauth.TokenRenewalInput) { in.MaxIdle = "-1h" }, `max_idle "-1h" must be positive`},
		{"negative cycles", func(in *daemonauth.TokenRenewalInput) { in.CyclesPerRun = -1 }, "cycles_per_run -1 must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			input := daemonauth.TokenRenewalInput{DaemonID: "a", TokenID: validTokenID}
			tc.apply(&input)
			require.ErrorContains(t, input.Validate(), tc.want)
		})
	}
}

func TestLoginHint(t *testing.T) {
	assert.Equal(t, "multica login", daemonauth.LoginHint("", ""))
	assert.Equal(t, "multica login --profile work", daemonauth.LoginHint("", "work"))
	assert.Equal(t, "acme login --profile work", daemonauth.LoginHint("acme login", "work"))
}

func TestValidateNeverEchoesRawToken(t *testing.T) {
	raw := "mul_" + strings.Repeat("ab", 20)
	err := daemonauth.DaemonStartupInput{DaemonID: "a", TokenID: raw}.Validate()
	require.Error(t, err)
	assert.NotContains(t, err.Error(), raw[4:12], "no part of the raw token is in the message")
	assert.Contains(t, err.Error(), "looks like a raw token")
}

func TestDecodeErrorsAreBounded(t *testing.T) {
	for name, data := range map[string]string{
		"long unknown field": `{"` + strings.Repeat("k", 65536) + `":1}`,
		"long number":        `{"cycles_per_run":` + strings.Repeat("9", 65536) + `}`,
		"long time":          `{"daemon_id":"a","token_id":"` + validTokenID + `","state":{"expires_at":"` + strings.Repeat("x", 65536) + `"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			var input daemonauth.TokenRenewalInput
			require.NoError(t, json.Unmarshal([]byte(data), &input))
			err := input.Validate()
			require.Error(t, err)
			assert.Less(t, len(err.Error()), 1000, "the message stays short")
		})
	}
}
