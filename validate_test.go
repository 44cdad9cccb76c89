package daemonauth_test

import (
	"encoding/json"
	"strings"
	"testing"

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

func TestTokenRenewalInputInterval(t *testing.T) {
	input := daemonauth.TokenRenewalInput{DaemonID: "a", TokenID: validTokenID}
	assert.Equal(t, daemonauth.DefaultRenewalInterval, input.RenewalInterval(), "empty interval means the default")

	input.Interval = "90m"
	require.NoError(t, input.Validate())
	assert.Equal(t, "1h30m0s", input.RenewalInterval().String())

	input.Interval = "0s"
	require.Error(t, input.Validate(), "a zero interval would renew in a busy loop")
	input.Interval = "1h"
	input.CyclesPerRun = -1
	require.ErrorContains(t, input.Validate(), "cycles_per_run")
}

func TestLoginHint(t *testing.T) {
	assert.Equal(t, "multica login", daemonauth.LoginHint("", ""))
	assert.Equal(t, "multica login --profile work", daemonauth.LoginHint("", "work"))
	assert.Equal(t, "acme login --profile work", daemonauth.LoginHint("acme login", "work"))
}
