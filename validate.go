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
	"unicode/utf8"
)

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

const maxLoginCommandLen = 200

// UnmarshalJSON decodes strictly: unknown fields and wrong types are kept as
// a validation error instead of failing the decode. A decode error inside
// the SDK (v1.51.0) would fail the workflow with the SDK's own error type,
// not InvalidInput, and with a message that does not name the field. This
// way Validate reports the problem, and the workflow fails with it.
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
			field := typeErr.Field
			if field == "" {
				field = "the input"
			}
			return fmt.Errorf("%s must be a JSON %s, got a JSON %s", shorten(field), jsonKind(typeErr.Type.Kind().String()), shorten(typeErr.Value))
		}
		// The decoder's messages copy field names, numbers and times whole,
		// and the message ends up in the workflow's history.
		return errors.New("malformed JSON: " + shorten(err.Error()))
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
	errs := []error{
		validateDaemonID(in.DaemonID),
		validateTokenID(in.TokenID),
		validateProfile(in.Profile),
		validateLoginCommand(in.LoginCommand),
	}
	if in.CyclesPerRun < 0 {
		errs = append(errs, fmt.Errorf("cycles_per_run %d must not be negative", in.CyclesPerRun))
	}

	schedule, err := in.parseSchedule()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if schedule.MinInterval > schedule.MaxInterval {
		errs = append(errs, fmt.Errorf("min_interval %s must not be longer than interval %s", schedule.MinInterval, schedule.MaxInterval))
	}
	if schedule.Jitter >= schedule.Threshold {
		errs = append(errs, fmt.Errorf("jitter %s must be shorter than threshold %s, or a renewal could start after the window", schedule.Jitter, schedule.Threshold))
	}
	return errors.Join(errs...)
}

// RenewalSchedule holds the durations of a TokenRenewalInput with the
// defaults applied.
type RenewalSchedule struct {
	MaxInterval time.Duration
	MinInterval time.Duration
	Threshold   time.Duration
	Jitter      time.Duration
	// MaxRejected and MaxIdle are zero when the rule is off.
	MaxRejected time.Duration
	MaxIdle     time.Duration
}

// Schedule returns the input's durations with the defaults applied. It
// assumes Validate passed.
func (in TokenRenewalInput) Schedule() RenewalSchedule {
	schedule, _ := in.parseSchedule()
	return schedule
}

func (in TokenRenewalInput) parseSchedule() (RenewalSchedule, error) {
	var errs []error
	field := func(name, value string, fallback time.Duration, allowZero bool) time.Duration {
		d, err := parseDuration(name, value, fallback, allowZero)
		errs = append(errs, err)
		return d
	}
	maxInterval := field("interval", in.Interval, DefaultRenewalInterval, false)
	schedule := RenewalSchedule{
		MaxInterval: maxInterval,
		// An input with only a short interval, as inputs had before
		// min_interval existed, stays valid.
		MinInterval: field("min_interval", in.MinInterval, min(DefaultMinInterval, maxInterval), false),
		Threshold:   field("threshold", in.Threshold, DefaultThreshold, false),
		Jitter:      field("jitter", in.Jitter, DefaultJitter, true),
		MaxRejected: field("max_rejected", in.MaxRejected, 0, true),
		MaxIdle:     field("max_idle", in.MaxIdle, 0, true),
	}
	return schedule, errors.Join(errs...)
}

// parseDuration parses an optional duration field: empty means fallback.
func parseDuration(name, value string, fallback time.Duration, allowZero bool) (time.Duration, error) {
	if value == "" {
		return fallback, nil
	}
	d, err := time.ParseDuration(value)
	switch {
	case err != nil:
		return fallback, fmt.Errorf("%s %s is not a duration such as \"72h\"", name, quote(value))
	case d < 0 || (d == 0 && !allowZero):
		return fallback, fmt.Errorf("%s %s must be positive", name, quote(value))
	}
	return d, nil
}

// Validate reports a malformed signal payload.
func (in SwitchTokenInput) Validate() error {
	return errors.Join(validateTokenID(in.TokenID), validateProfile(in.Profile))
}

// Validate reports a malformed activity input.
func (in RenewTokenInput) Validate() error {
	_, err := in.IdleLimit()
	return errors.Join(validateTokenID(in.TokenID), err)
}

// IdleLimit returns MaxIdle as a duration; zero means no idle check.
func (in RenewTokenInput) IdleLimit() (time.Duration, error) {
	return parseDuration("max_idle", in.MaxIdle, 0, true)
}

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
	if strings.HasPrefix(id, rawTokenPrefix) {
		// Never echo it: it is probably the secret itself.
		return errors.New("token_id looks like a raw token (mul_…); pass the id of its personal_access_token row, never the token")
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

// rawTokenPrefix starts every raw personal access token.
const rawTokenPrefix = "mul_"

// shorten cuts a message part to maxQuoted bytes on a UTF-8 boundary.
func shorten(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", s[:cut], len(s))
}

const maxQuoted = 200

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
