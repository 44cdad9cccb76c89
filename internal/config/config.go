// Package config loads the settings shared by the worker and the starter
// with viper. Precedence, highest first: command-line flags, environment
// variables, the config file, defaults. Temporal's own variables
// (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE) mean what they mean to the
// temporal CLI; every other variable is the key in upper case with a
// DAEMONAUTH_ prefix and dots turned into underscores.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

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
}

// Temporal holds the Temporal connection settings.
type Temporal struct {
	Address   string `mapstructure:"address"`
	Namespace string `mapstructure:"namespace"`
	TaskQueue string `mapstructure:"task_queue"`
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

// Defaults point at a local dev server and a local PostgreSQL.
var defaults = map[string]any{
	"temporal.address":       "127.0.0.1:7233",
	"temporal.namespace":     "default",
	"temporal.task_queue":    daemonauth.DefaultTaskQueue,
	"database.url":           "postgres://postgres@127.0.0.1:5432/daemonauth?sslmode=disable",
	"renewal.extension":      activities.DefaultExtension,
	"renewal.threshold":      activities.DefaultThreshold,
	"renewal.interval":       daemonauth.DefaultRenewalInterval,
	"renewal.min_interval":   daemonauth.DefaultMinInterval,
	"renewal.jitter":         daemonauth.DefaultJitter,
	"renewal.max_rejected":   14 * 24 * time.Hour,
	"renewal.max_idle":       30 * 24 * time.Hour,
	"renewal.cycles_per_run": daemonauth.DefaultCyclesPerRun,
	"log.level":              "info",
	"log.format":             "text",
	"login_command":          daemonauth.DefaultLoginCommand,
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
}

// AddFlags adds the shared flags to fs.
func AddFlags(fs *pflag.FlagSet) {
	fs.String("config", "", "path of a YAML, TOML or JSON config file")
	fs.String("temporal-address", "", "Temporal frontend host:port (env TEMPORAL_ADDRESS; default 127.0.0.1:7233)")
	fs.String("namespace", "", "Temporal namespace (env TEMPORAL_NAMESPACE; default \"default\")")
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

	if flag := fs.Lookup("config"); flag != nil && flag.Value.String() != "" {
		v.SetConfigFile(flag.Value.String())
		if err := v.ReadInConfig(); err != nil {
			return Config{}, fmt.Errorf("read config file %s: %w", flag.Value.String(), err)
		}
	}

	var cfg Config
	if err := v.UnmarshalExact(&cfg); err != nil {
		return Config{}, fmt.Errorf("invalid configuration: %w", err)
	}
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
		errs = append(errs, fmt.Errorf("%s (%s): %s", key, EnvName(key), fmt.Sprintf(format, args...)))
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
	return errors.Join(errs...)
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
