package daemonauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
)

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

const maxLoginCommandLen = 200

// UnmarshalJSON decodes strictly: unknown fields and wrong types are kept as
// a validation error instead of failing the decode. A decode error inside
// the SDK would fail the workflow task and retry it forever; this way
// Validate reports the problem and the workflow fails once, non-retryably.
func (in *DaemonStartupInput) UnmarshalJSON(data []byte) error {
	type plain DaemonStartupInput
	var decoded plain
	err := decodeStrict(data, &decoded)
	*in = DaemonStartupInput(decoded)
	in.decodeErr = err
	return nil
}

// UnmarshalJSON decodes strictly; see DaemonStartupInput.UnmarshalJSON.
func (in *TokenRenewalInput) UnmarshalJSON(data []byte) error {
	type plain TokenRenewalInput
	var decoded plain
	err := decodeStrict(data, &decoded)
	*in = TokenRenewalInput(decoded)
	in.decodeErr = err
	return nil
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return fmt.Errorf("%s must be a JSON %s, got a JSON %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
		}
		return fmt.Errorf("malformed JSON: %w", err)
	}
	return nil
}

// jsonKind names a Go kind as the JSON type that decodes into it.
func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	default:
		return "number"
	}
}

// Validate reports every problem with the input, naming the fields.
func (in DaemonStartupInput) Validate() error {
	if in.decodeErr != nil {
		return in.decodeErr
	}
	return errors.Join(
		validateDaemonID(in.DaemonID),
		validateTokenID(in.TokenID),
		validateProfile(in.Profile),
		validateLoginCommand(in.LoginCommand),
	)
}

// Validate reports every problem with the input, naming the fields.
func (in TokenRenewalInput) Validate() error {
	if in.decodeErr != nil {
		return in.decodeErr
	}
	var intervalErr error
	if in.Interval != "" {
		if d, err := time.ParseDuration(in.Interval); err != nil {
			intervalErr = fmt.Errorf("interval %s is not a duration such as \"72h\"", quote(in.Interval))
		} else if d <= 0 {
			intervalErr = fmt.Errorf("interval %s must be positive", quote(in.Interval))
		}
	}
	var cyclesErr error
	if in.CyclesPerRun < 0 {
		cyclesErr = fmt.Errorf("cycles_per_run %d must not be negative", in.CyclesPerRun)
	}
	return errors.Join(
		validateDaemonID(in.DaemonID),
		validateTokenID(in.TokenID),
		validateProfile(in.Profile),
		validateLoginCommand(in.LoginCommand),
		intervalErr,
		cyclesErr,
	)
}

// RenewalInterval returns the interval between renewals, with the default
// applied. It assumes Validate passed.
func (in TokenRenewalInput) RenewalInterval() time.Duration {
	d, err := time.ParseDuration(in.Interval)
	if err != nil || d <= 0 {
		return DefaultRenewalInterval
	}
	return d
}

// Validate reports a malformed signal payload.
func (in SwitchTokenInput) Validate() error {
	return errors.Join(validateTokenID(in.TokenID), validateProfile(in.Profile))
}

// Validate reports a malformed activity input.
func (in RenewTokenInput) Validate() error { return validateTokenID(in.TokenID) }

// Validate reports a malformed activity input.
func (in SyncWorkspacesInput) Validate() error {
	return errors.Join(validateDaemonID(in.DaemonID), validateTokenID(in.TokenID))
}

// Validate reports a malformed activity input.
func (in EnsureTokenRenewalInput) Validate() error {
	return errors.Join(
		validateDaemonID(in.DaemonID),
		validateTokenID(in.TokenID),
		validateProfile(in.Profile),
		validateLoginCommand(in.LoginCommand),
	)
}

func validateDaemonID(id string) error {
	if id == "" {
		return errors.New("daemon_id is missing")
	}
	if !daemonIDPattern.MatchString(id) {
		return fmt.Errorf("daemon_id %s is invalid: use 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit", quote(id))
	}
	return nil
}

func validateTokenID(id string) error {
	if id == "" {
		return errors.New("token_id is missing")
	}
	if !uuidPattern.MatchString(id) {
		return fmt.Errorf("token_id %s is not a UUID such as \"0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d\"", quote(id))
	}
	return nil
}

func validateProfile(profile string) error {
	if profile != "" && !profilePattern.MatchString(profile) {
		return fmt.Errorf("profile %s is invalid: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", quote(profile))
	}
	return nil
}

func validateLoginCommand(command string) error {
	if len(command) > maxLoginCommandLen {
		return fmt.Errorf("login_command is %d bytes long; the maximum is %d", len(command), maxLoginCommandLen)
	}
	if strings.IndexFunc(command, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return fmt.Errorf("login_command %s contains control characters", quote(command))
	}
	return nil
}

// quote quotes a value for an error message, shortened so that a huge input
// does not end up whole in a workflow failure.
func quote(s string) string {
	const max = 40
	if len(s) > max {
		return fmt.Sprintf("%q… (%d bytes)", s[:max], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// LoginHint returns the command an operator runs to replace a rejected token.
func LoginHint(loginCommand, profile string) string {
	if loginCommand == "" {
		loginCommand = DefaultLoginCommand
	}
	if profile == "" {
		return loginCommand
	}
	return loginCommand + " --profile " + profile
}

// ShortID returns the first 8 characters of an id, enough to tell tokens
// apart in logs and summaries.
func ShortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
