package daemonauth_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"daemonauth"
)

// maxErrorLen bounds a validation error message whatever the input's size.
// The longest message known is 2,372 bytes, from the renewal seed with
// every field wrong, so 4 KB leaves room for new checks while still
// catching a value copied whole into a message.
const maxErrorLen = 4096

// startupSeeds are valid and invalid DaemonStartup inputs, as the temporal
// CLI or the SDK could send them.
var startupSeeds = []string{
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d"}`,
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d","profile":"work"}`,
	`{"daemon_id":"a.b_c-d","token_id":"0B7E5C1A-3F0E-4C52-9D7A-2A1F4E8B6C3D","profile":"w","login_command":"acme login"}`,
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d","login_command":"multica login --server https://multica.example"}`,
	`{}`,
	`null`,
	`[]`,
	`"laptop-7"`,
	`7`,
	`{"daemon_id":`,
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d",}`,
	`{"daemon_id":"laptop-7"}`,
	`{"token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d"}`,
	`{"daemon_id":"laptop-7","token_id":"mul_abc"}`,
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a3f0e4c529d7a2a1f4e8b6c3d"}`,
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d","tokn":"x"}`,
	`{"daemon_id":7,"token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d"}`,
	`{"daemon_id":["a"],"token_id":{"id":1}}`,
	`{"daemon_id":null,"token_id":null,"profile":null}`,
	`{"daemon_id":"-rf","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d"}`,
	`{"daemon_id":"laptop 7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d","profile":"a b"}`,
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d","login_command":"login\nrm -rf /"}`,
	`{"daemon_id":"laptop-7","daemon_id":"laptop-8","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d"}`,
	`{"daemon_id":"l\u00e4ptop","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d"}`,
	`{"daemon_id":"` + strings.Repeat("a", 129) + `","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d"}`,
	`{"daemon_id":"` + strings.Repeat("a", 64<<10) + `","token_id":"` + strings.Repeat("\\u0001", 100) + `"}`,
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d","login_command":"` + strings.Repeat("x", 201) + `"}`,
	"{\"daemon_id\":\"laptop-7\xff\",\"token_id\":\"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d\"}",
}

// renewalSeeds are valid and invalid TokenRenewal inputs, including the
// state that continue-as-new carries.
var renewalSeeds = []string{
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d"}`,
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d","interval":"168h","min_interval":"1h","threshold":"168h","jitter":"6h","max_rejected":"336h","max_idle":"720h","cycles_per_run":100}`,
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d","interval":"1s","min_interval":"1s","jitter":"0s","renew_soon":true}`,
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d","state":{"cycles":3,"continue_as_new_count":1,"last_outcome":"renewed","last_outcome_at":"2026-01-02T03:04:05.123456789+02:00","expires_at":"2026-04-02T03:04:05Z","needs_relogin":false}}`,
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d","state":{"needs_relogin":true,"rejected_since":"2026-01-02T03:04:05Z","last_error":"revoked"}}`,
	`{}`,
	`null`,
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d","interval":"weekly"}`,
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d","interval":"0s"}`,
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d","interval":"-1h","max_idle":"-1h"}`,
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d","cycles_per_run":-1}`,
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d","cycles_per_run":1.5}`,
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d","cycles_per_run":"100"}`,
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d","min_interval":"2h","interval":"1h"}`,
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d","jitter":"200h"}`,
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d","interval":"2562047h"}`,
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d","interval":"9999999999h"}`,
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d","state":{"expires_at":"tomorrow"}}`,
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d","state":{"cycles":"3"}}`,
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d","state":{"extra":1}}`,
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d","state":null}`,
	// Every field wrong, each value made of control characters that %q
	// escapes to four bytes: the longest message known.
	`{"daemon_id":"` + strings.Repeat("\\u0010", 50) + `","token_id":"` + strings.Repeat("\\u0011", 50) +
		`","profile":"` + strings.Repeat("\\u0012", 50) + `","login_command":"` + strings.Repeat("\\u0013", 50) +
		`","interval":"` + strings.Repeat("\\u0001", 50) +
		`","min_interval":"` + strings.Repeat("\\u0002", 50) + `","threshold":"` + strings.Repeat("\\u0003", 50) +
		`","jitter":"` + strings.Repeat("\\u0004", 50) + `","max_rejected":"` + strings.Repeat("\\u0005", 50) +
		`","max_idle":"` + strings.Repeat("\\u0006", 50) + `","cycles_per_run":-1}`,
	`{"daemon_id":"laptop-7","token_id":"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d","interval":"` + strings.Repeat("9", 64<<10) + `h"}`,
}

// FuzzDaemonStartupInput decodes arbitrary bytes with json.Unmarshal, as
// the SDK's JSON payload converter does, then validates. Decoding must not
// fail on valid JSON, so every bad input reaches Validate, which names the
// problem in a non-retryable InvalidInput failure.
func FuzzDaemonStartupInput(f *testing.F) {
	for _, seed := range startupSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var input daemonauth.DaemonStartupInput
		if err := json.Unmarshal(data, &input); err != nil {
			if json.Valid(data) {
				t.Fatalf("decoding valid JSON failed, so the workflow would fail with the SDK's decode error, not InvalidInput: %v", err)
			}
			return
		}

		err := input.Validate()

		checkErrorMessage(t, err, input.Validate())
		if err != nil {
			return
		}
		var again daemonauth.DaemonStartupInput
		checkRoundTrip(t, input, &again, func() error { return again.Validate() })
	})
}

// FuzzTokenRenewalInput is FuzzDaemonStartupInput for TokenRenewal, whose
// input also carries the schedule and the state kept across
// continue-as-new.
func FuzzTokenRenewalInput(f *testing.F) {
	for _, seed := range renewalSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var input daemonauth.TokenRenewalInput
		if err := json.Unmarshal(data, &input); err != nil {
			if json.Valid(data) {
				t.Fatalf("decoding valid JSON failed, so the workflow would fail with the SDK's decode error, not InvalidInput: %v", err)
			}
			return
		}

		err := input.Validate()

		checkErrorMessage(t, err, input.Validate())
		if err != nil {
			return
		}
		schedule := input.Schedule()
		if schedule.MinInterval <= 0 || schedule.MinInterval > schedule.MaxInterval {
			t.Errorf("valid input has min interval %s outside (0, %s]", schedule.MinInterval, schedule.MaxInterval)
		}
		if schedule.Jitter < 0 || schedule.Jitter >= schedule.Threshold {
			t.Errorf("valid input has jitter %s outside [0, %s)", schedule.Jitter, schedule.Threshold)
		}
		var again daemonauth.TokenRenewalInput
		checkRoundTrip(t, input, &again, func() error { return again.Validate() })
	})
}

// checkErrorMessage checks that a validation error is short whatever the
// input, and that validating again gives the same message.
func checkErrorMessage(t *testing.T, err, second error) {
	t.Helper()
	if (err == nil) != (second == nil) || (err != nil && err.Error() != second.Error()) {
		t.Fatalf("Validate is not deterministic: %v, then %v", err, second)
	}
	if err == nil {
		return
	}
	message := err.Error()
	if message == "" {
		t.Fatal("Validate returned an error with an empty message")
	}
	if len(message) > maxErrorLen {
		t.Fatalf("error message is %d bytes long, more than %d: %.300q…", len(message), maxErrorLen, message)
	}
}

// checkRoundTrip encodes a valid input as the SDK does when it starts a
// workflow or continues one as new, decodes it into again, and checks that
// it stays valid and encodes to the same JSON.
func checkRoundTrip(t *testing.T, input any, again any, validateAgain func() error) {
	t.Helper()
	encoded, err := json.Marshal(input)
	if err != nil {
		t.Fatalf("encoding a valid input failed: %v", err)
	}
	if err := json.Unmarshal(encoded, again); err != nil {
		t.Fatalf("decoding %s failed: %v", encoded, err)
	}
	if err := validateAgain(); err != nil {
		t.Fatalf("valid input %s is invalid after a round trip: %v", encoded, err)
	}
	reencoded, err := json.Marshal(again)
	if err != nil {
		t.Fatalf("encoding the decoded input failed: %v", err)
	}
	if !bytes.Equal(encoded, reencoded) {
		t.Fatalf("round trip changed the input:\n%s\n%s", encoded, reencoded)
	}
}
