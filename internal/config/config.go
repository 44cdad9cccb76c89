// Package config loads the settings shared by the worker and the starter
// with viper. Precedence, highest first: command-line flags, environment
// variables, the config file, the temporal CLI's client profile (for the
// Temporal address and namespace only), defaults. Temporal's own variables
// (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*,
// TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE) mean what they mean to the
// temporal CLI; every other variable is the key in upper case with a
// DAEMONAUTH_ prefix and dots turned into underscores.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"go.temporal.io/sdk/contrib/envconfig"

	"daemonauth"
	"daemonauth/activities"
)

// EnvPrefix is the prefix of this project's environment variables.
const EnvPrefix = "DAEMONAUTH"

// Config is the validated configuration.
type Config struct {
	Temporal     Temporal `mapstructure:"temporal"`
	Database     Database `mapstructure:"database"`
	Renewal      Renewal  `mapstructure:"renewal"`
	Log          Log      `mapstructure:"log"`
	LoginCommand string   `mapstructure:"login_command"`
	Metrics      Metrics  `mapstructure:"metrics"`
}

// Temporal holds the Temporal connection settings.
type Temporal struct {
	Address   string `mapstructure:"address"`
	Namespace string `mapstructure:"namespace"`
	TaskQueue string `mapstructure:"task_queue"`
	// WorkflowCacheSize is how many workflows the worker keeps in memory
	// between their tasks. A renewal sleeps for days, so caching every one
	// of a large fleet costs memory for little gain: a workflow that is not
	// cached replays its short history when it wakes. Zero means 1000.
	WorkflowCacheSize int `mapstructure:"workflow_cache_size"`
	// Profile is the temporal CLI's client profile. Its TLS, API key and
	// gRPC metadata are used as they are. Its address and namespace are
	// only the defaults of Address and Namespace.
	Profile TemporalProfile `mapstructure:"-"`
}

// Database holds the PostgreSQL settings.
type Database struct {
	// URL is a libpq connection string or URL, as pgx accepts it.
	URL string `mapstructure:"url"`
}

// Renewal holds the renewal policy.
type Renewal struct {
	Extension time.Duration `mapstructure:"extension"`
	Threshold time.Duration `mapstructure:"threshold"`
	// Interval is the maximum time between two checks of a token.
	Interval     time.Duration `mapstructure:"interval"`
	MinInterval  time.Duration `mapstructure:"min_interval"`
	Jitter       time.Duration `mapstructure:"jitter"`
	MaxRejected  time.Duration `mapstructure:"max_rejected"`
	MaxIdle      time.Duration `mapstructure:"max_idle"`
	CyclesPerRun int           `mapstructure:"cycles_per_run"`
}

// Log holds the logging settings.
type Log struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

// Metrics holds the settings of the worker's Prometheus endpoint.
type Metrics struct {
	// Address is the host:port on which the worker serves /metrics. Empty
	// serves no metrics.
	// NOTE: viper treats an empty DAEMONAUTH_METRICS_ADDRESS as unset, so
	// only --metrics-address= or the config file can turn metrics off.
	Address string `mapstructure:"address"`
}

// Defaults point at a local dev server and a local PostgreSQL.
var defaults = map[string]any{
	"temporal.address":             "127.0.0.1:7233",
	"temporal.namespace":           "default",
	"temporal.task_queue":          daemonauth.DefaultTaskQueue,
	"temporal.workflow_cache_size": 1000,
	"database.url":                 "postgres://postgres@127.0.0.1:5432/daemonauth?sslmode=disable",
	"renewal.extension":            activities.DefaultExtension,
	"renewal.threshold":            activities.DefaultThreshold,
	"renewal.interval":             daemonauth.DefaultRenewalInterval,
	"renewal.min_interval":         daemonauth.DefaultMinInterval,
	"renewal.jitter":               daemonauth.DefaultJitter,
	"renewal.max_rejected":         14 * 24 * time.Hour,
	"renewal.max_idle":             30 * 24 * time.Hour,
	"renewal.cycles_per_run":       daemonauth.DefaultCyclesPerRun,
	"log.level":                    "info",
	"log.format":                   "text",
	"login_command":                daemonauth.DefaultLoginCommand,
	"metrics.address":              "127.0.0.1:9464",
}

// Environment variables that the temporal CLI also reads.
var temporalEnv = map[string]string{
	"temporal.address":   "TEMPORAL_ADDRESS",
	"temporal.namespace": "TEMPORAL_NAMESPACE",
}

// flagKeys maps each command-line flag to the key it sets.
var flagKeys = map[string]string{
	"temporal-address": "temporal.address",
	"namespace":        "temporal.namespace",
	"task-queue":       "temporal.task_queue",
	"database-url":     "database.url",
	"log-level":        "log.level",
	"log-format":       "log.format",
	// Only the worker has --metrics-address; Load binds the flags that fs has.
	"metrics-address": "metrics.address",
}

// AddFlags adds the shared flags to fs.
func AddFlags(fs *pflag.FlagSet) {
	fs.String("config", "", "path of a YAML, TOML or JSON config file")
	fs.String("temporal-address", "", "Temporal frontend host:port (env TEMPORAL_ADDRESS; default: the temporal CLI profile's, else 127.0.0.1:7233)")
	fs.String("namespace", "", "Temporal namespace (env TEMPORAL_NAMESPACE; default: the temporal CLI profile's, else \"default\")")
	fs.String("task-queue", "", "task queue of the worker (env DAEMONAUTH_TEMPORAL_TASK_QUEUE; default \"daemon-auth\")")
	fs.String("database-url", "", "PostgreSQL connection URL (env DAEMONAUTH_DATABASE_URL)")
	fs.String("log-level", "", "debug, info, warn or error (env DAEMONAUTH_LOG_LEVEL; default info)")
	fs.String("log-format", "", "text or json (env DAEMONAUTH_LOG_FORMAT; default text)")
}

// Load reads the configuration from the defaults, the config file named by
// --config, the environment and the flags in fs, then validates it. Unknown
// keys in the config file are an error, so a misspelt key does not silently
// leave a default in place.
func Load(fs *pflag.FlagSet) (Config, error) {
	v := viper.New()
	for key, value := range defaults {
		v.SetDefault(key, value)
	}
	profile, err := LoadTemporalProfile()
	if err != nil {
		return Config{}, err
	}
	profile.setDefaults(v)

	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	for key, name := range temporalEnv {
		if err := v.BindEnv(key, EnvName(key), name); err != nil {
			return Config{}, fmt.Errorf("bind %s: %w", name, err)
		}
	}

	for name, key := range flagKeys {
		if flag := fs.Lookup(name); flag != nil {
			if err := v.BindPFlag(key, flag); err != nil {
				return Config{}, fmt.Errorf("bind --%s: %w", name, err)
			}
		}
	}

	configFile := ""
	if flag := fs.Lookup("config"); flag != nil && flag.Value.String() != "" {
		configFile = flag.Value.String()
		v.SetConfigFile(configFile)
		if err := v.ReadInConfig(); err != nil {
			return Config{}, fmt.Errorf("read config file %s: %w", configFile, err)
		}
	}

	var cfg Config
	if err := v.UnmarshalExact(&cfg); err != nil {
		return Config{}, decodeErrors(v, err, configFile)
	}
	cfg.Temporal.Profile = profile
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// EnvName returns the environment variable of this project that sets key.
func EnvName(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug,
	"info":  slog.LevelInfo,
	"warn":  slog.LevelWarn,
	"error": slog.LevelError,
}

// Validate reports every invalid setting, naming its key.
func (c Config) Validate() error {
	var errs []error
	invalid := func(key, format string, args ...any) {
		errs = append(errs, settingError(key, fmt.Sprintf(format, args...)))
	}

	if c.Temporal.Address == "" {
		invalid("temporal.address", "is empty; set it to the Temporal frontend host:port")
	}
	if c.Temporal.Namespace == "" {
		invalid("temporal.namespace", "is empty")
	}
	if c.Temporal.TaskQueue == "" {
		invalid("temporal.task_queue", "is empty")
	}
	if c.Temporal.WorkflowCacheSize < 0 {
		invalid("temporal.workflow_cache_size", "%d must be positive", c.Temporal.WorkflowCacheSize)
	}
	if _, err := pgxpool.ParseConfig(c.Database.URL); err != nil {
		invalid("database.url", "cannot be parsed: %v", RedactError(err))
	}

	if c.Renewal.Threshold <= 0 {
		invalid("renewal.threshold", "%s must be positive", c.Renewal.Threshold)
	} else if err := c.Policy().Validate(); err != nil {
		invalid("renewal.extension", "%v", err)
	}
	if c.Renewal.Interval <= 0 {
		invalid("renewal.interval", "%s must be positive", c.Renewal.Interval)
	}
	if c.Renewal.MinInterval <= 0 {
		invalid("renewal.min_interval", "%s must be positive", c.Renewal.MinInterval)
	} else if c.Renewal.MinInterval > c.Renewal.Interval {
		invalid("renewal.min_interval", "%s must not be longer than renewal.interval %s", c.Renewal.MinInterval, c.Renewal.Interval)
	}
	if c.Renewal.Jitter < 0 || c.Renewal.Jitter >= c.Renewal.Threshold {
		invalid("renewal.jitter", "%s must be at least 0 and shorter than renewal.threshold %s", c.Renewal.Jitter, c.Renewal.Threshold)
	}
	if c.Renewal.MaxRejected < 0 {
		invalid("renewal.max_rejected", "%s must not be negative; 0 turns the rule off", c.Renewal.MaxRejected)
	}
	if c.Renewal.MaxIdle < 0 {
		invalid("renewal.max_idle", "%s must not be negative; 0 turns the rule off", c.Renewal.MaxIdle)
	}
	if c.Renewal.CyclesPerRun <= 0 {
		invalid("renewal.cycles_per_run", "%d must be positive", c.Renewal.CyclesPerRun)
	}

	if _, ok := logLevels[c.Log.Level]; !ok {
		invalid("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		invalid("log.format", "%q is not text or json", c.Log.Format)
	}
	if c.LoginCommand == "" {
		invalid("login_command", "is empty")
	}
	if c.Metrics.Address != "" && !isHostPort(c.Metrics.Address) {
		invalid("metrics.address", "%q is not a host:port such as 127.0.0.1:9464; set it empty to serve no metrics", c.Metrics.Address)
	}
	return errors.Join(errs...)
}

// settingError reports an invalid setting, naming its key and the
// environment variable that sets it.
func settingError(key, problem string) error {
	return fmt.Errorf("%s (%s): %s", key, EnvName(key), problem)
}

// Policy returns the renewal policy.
func (c Config) Policy() activities.Policy {
	return activities.Policy{Extension: c.Renewal.Extension, Threshold: c.Renewal.Threshold}
}

// LogLevel returns the configured slog level.
func (c Config) LogLevel() slog.Level { return logLevels[c.Log.Level] }

var passwordParam = regexp.MustCompile(`(?i)(password\s*=\s*)('[^']*'|\S+)`)

// RedactURL returns a database URL or key=value connection string with its
// password masked, for logs and error messages.
func RedactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Scheme != "" {
		redacted := u.Redacted()
		if q := u.Query(); q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
			redacted = u.Redacted()
		}
		return redacted
	}
	return passwordParam.ReplaceAllString(raw, "${1}xxxxx")
}

// RedactError returns err's message with any password in it masked. pgx
// parse errors quote the whole connection string.
func RedactError(err error) string {
	message := err.Error()
	message = passwordParam.ReplaceAllString(message, "${1}xxxxx")
	return userinfoPassword.ReplaceAllString(message, "${1}:xxxxx@")
}

var userinfoPassword = regexp.MustCompile(`(://[^:/@\s]+):[^@\s]+@`)

// isHostPort reports whether address is host:port with a numeric port. The
// host may be empty, which listens on every interface.
func isHostPort(address string) bool {
	_, port, err := net.SplitHostPort(address)
	if err != nil {
		return false
	}
	_, err = strconv.ParseUint(port, 10, 16)
	return err == nil
}

// TemporalProfile is a client profile of the temporal CLI, loaded with the
// SDK's envconfig module as the CLI loads it. It is the profile named by
// TEMPORAL_PROFILE ("default" when unset), read from the TOML file named by
// TEMPORAL_CONFIG_FILE (the CLI's default file when unset). The CLI's
// environment variables (TEMPORAL_ADDRESS, TEMPORAL_API_KEY,
// TEMPORAL_TLS_*, ...) override its values.
type TemporalProfile struct {
	// Name is the profile's name, for messages.
	Name string
	// File is the file the profile was read from, for messages. A missing
	// file is no error and leaves Client to the environment alone.
	File   string
	Client envconfig.ClientConfigProfile
}

// LoadTemporalProfile loads the temporal CLI's client profile. It fails when
// TEMPORAL_PROFILE names a profile that the file lacks, when the file is not
// valid TOML, or when the TLS settings cannot be loaded, such as a missing
// certificate file. These mistakes then stop the program before it
// connects.
func LoadTemporalProfile() (TemporalProfile, error) {
	profile := TemporalProfile{Name: os.Getenv("TEMPORAL_PROFILE"), File: os.Getenv("TEMPORAL_CONFIG_FILE")}
	if profile.Name == "" {
		profile.Name = envconfig.DefaultConfigFileProfile
	}
	if profile.File == "" {
		profile.File = envconfig.DefaultConfigFilePath()
	}

	// Not strict, like the CLI: a file written by a newer CLI may hold keys
	// that this version of envconfig does not know.
	client, err := envconfig.LoadClientConfigProfile(envconfig.LoadClientConfigProfileOptions{})
	if err != nil {
		return TemporalProfile{}, fmt.Errorf("temporal CLI profile %q in %s (TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE): %w", profile.Name, profile.File, err)
	}
	profile.Client = client

	if _, err := client.ToClientOptions(envconfig.ToClientOptionsRequest{}); err != nil {
		return TemporalProfile{}, fmt.Errorf("temporal CLI profile %q in %s, with the TEMPORAL_TLS_* variables: %w", profile.Name, profile.File, err)
	}
	return profile, nil
}

// setDefaults makes the profile's address and namespace the defaults of
// temporal.address and temporal.namespace, so that a flag, a variable or
// this project's config file still overrides them.
func (p TemporalProfile) setDefaults(v *viper.Viper) {
	if p.Client.Address != "" {
		v.SetDefault("temporal.address", p.Client.Address)
	}
	if p.Client.Namespace != "" {
		v.SetDefault("temporal.namespace", p.Client.Namespace)
	}
}

// decodeErrors turns the error of viper's UnmarshalExact into one error
// per setting, each naming its key and environment variable. mapstructure
// (v2.4.0) leaves values out of its messages. The value of a duration is
// put back, because it is never a secret and seeing it is the quickest
// fix. Other values stay out, because a string setting such as
// database.url may hold a password.
func decodeErrors(v *viper.Viper, err error, configFile string) error {
	if !errors.As(err, new(*mapstructure.DecodeError)) {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	var errs []error
	for _, leaf := range decodeErrorLeaves(err) {
		decodeErr, ok := leaf.(*mapstructure.DecodeError)
		if !ok {
			errs = append(errs, fmt.Errorf("invalid configuration: %w", leaf))
			continue
		}
		errs = append(errs, describeDecodeError(v, decodeErr, configFile)...)
	}
	return errors.Join(errs...)
}

// decodeErrorLeaves flattens the joined and wrapped errors that
// mapstructure returns into the *mapstructure.DecodeError values inside.
func decodeErrorLeaves(err error) []error {
	if _, ok := err.(*mapstructure.DecodeError); ok {
		return []error{err}
	}
	switch wrapper := err.(type) {
	case interface{ Unwrap() []error }:
		var leaves []error
		for _, inner := range wrapper.Unwrap() {
			leaves = append(leaves, decodeErrorLeaves(inner)...)
		}
		return leaves
	case interface{ Unwrap() error }:
		if inner := wrapper.Unwrap(); inner != nil {
			return decodeErrorLeaves(inner)
		}
	}
	return []error{err}
}

// unknownKeysPrefix starts the message of mapstructure v2's error for keys
// that match no field (mapstructure.go, decodeStructFromMap).
const unknownKeysPrefix = "has invalid keys: "

// describeDecodeError rewords one decode error for an operator. The kind
// of setting comes from its default, since every key has one.
func describeDecodeError(v *viper.Viper, decodeErr *mapstructure.DecodeError, configFile string) []error {
	key := decodeErr.Name()
	cause := decodeErr.Unwrap()
	if names, ok := strings.CutPrefix(cause.Error(), unknownKeysPrefix); ok {
		return unknownKeyErrors(key, strings.Split(names, ", "), configFile)
	}

	switch defaultValue := defaults[key].(type) {
	case time.Duration:
		return []error{settingError(key, describeValue(v.Get(key))+` is not a duration such as "72h"`)}
	case int:
		return []error{settingError(key, fmt.Sprintf("must be a whole number such as %d", defaultValue))}
	case string:
		return []error{settingError(key, "must be a single string, not "+kindOf(v.Get(key)))}
	}
	if keys := keysUnder(key); len(keys) > 0 {
		// Only a config file can set a whole section to one value, as in
		// "renewal: 1h".
		return []error{fmt.Errorf("%s in %s is %s, but it must be a section with the keys %s",
			key, sourceOf(configFile), kindOf(v.Get(key)), strings.Join(keys, ", "))}
	}
	// mapstructure v2.4.0 names types here, not values.
	return []error{fmt.Errorf("%s: %v", key, cause)}
}

// sourceOf names where the keys of a config file came from.
func sourceOf(configFile string) string {
	if configFile == "" {
		return "the configuration"
	}
	return "config file " + configFile
}

// unknownKeyErrors reports keys of the config file that match no setting,
// with the keys that section does have.
func unknownKeyErrors(section string, names []string, configFile string) []error {
	valid := keysUnder(section)
	where := "the top-level keys are"
	if section != "" {
		where = "the keys under " + section + " are"
	}

	errs := make([]error, 0, len(names))
	for _, name := range names {
		if section != "" {
			name = section + "." + name
		}
		errs = append(errs, fmt.Errorf("unknown key %s in %s (%s %s)", name, sourceOf(configFile), where, strings.Join(valid, ", ")))
	}
	return errs
}

// keysUnder returns the names one level below section, sorted, or the
// top-level names when section is empty.
func keysUnder(section string) []string {
	prefix := ""
	if section != "" {
		prefix = section + "."
	}
	var names []string
	for _, key := range Keys() {
		rest, ok := strings.CutPrefix(key, prefix)
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(rest, ".")
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

// describeValue formats a duration setting's value for a message: a
// string quoted and shortened to 40 bytes, a list or map by its kind.
func describeValue(value any) string {
	text, ok := value.(string)
	if !ok {
		return kindOf(value)
	}
	const maxLen = 40
	if len(text) > maxLen {
		return fmt.Sprintf("%q… (%d bytes)", text[:maxLen], len(text))
	}
	return fmt.Sprintf("%q", text)
}

// kindOf names the kind of a value read from a config file, without the
// value itself.
func kindOf(value any) string {
	switch reflect.ValueOf(value).Kind() {
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map:
		return "a map"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Invalid:
		return "an empty value"
	default:
		return "a number"
	}
}
