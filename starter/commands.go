package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"daemonauth"
	"daemonauth/internal/config"
	"daemonauth/internal/daemonclient"
	"daemonauth/internal/seed"
	"daemonauth/internal/workerapp"
	"daemonauth/migrations"
)

var migrateCommand = command{
	name:    "migrate",
	summary: "Apply pending database migrations. Safe to run again; concurrent runs wait for each other.",
	example: "starter migrate --database-url 'postgres://app@127.0.0.1:5432/app?sslmode=disable'",
	flags: func(fs *pflag.FlagSet) func(context.Context, *environment) error {
		return func(ctx context.Context, env *environment) error {
			pool, err := env.database(ctx)
			if err != nil {
				return err
			}
			if err := migrations.Up(ctx, pool, env.logger()); err != nil {
				return err
			}
			fmt.Fprintln(env.stdout, "Database schema is up to date.")
			return nil
		}
	},
}

var registerSearchAttributesCommand = command{
	name: "register-search-attributes",
	summary: "Add the DaemonId (Keyword), TokenExpiresAt (Datetime) and NeedsRelogin (Bool)\n" +
		"search attributes to the namespace. Safe to run again. The worker refuses to\n" +
		"start without them, because every TokenRenewal writes them.",
	example: "starter register-search-attributes --temporal-address temporal.internal:7233 --namespace auth",
	flags: func(fs *pflag.FlagSet) func(context.Context, *environment) error {
		return func(ctx context.Context, env *environment) error {
			c, err := env.temporalClient(ctx)
			if err != nil {
				return err
			}
			added, err := workerapp.RegisterSearchAttributes(ctx, c, env.cfg.Temporal.Namespace)
			if err != nil {
				return err
			}
			if len(added) == 0 {
				fmt.Fprintf(env.stdout, "Namespace %s already has every search attribute.\n", env.cfg.Temporal.Namespace)
				return nil
			}
			fmt.Fprintf(env.stdout, "Added to namespace %s: %s.\n", env.cfg.Temporal.Namespace, strings.Join(added, ", "))
			return nil
		}
	},
}

var issueTokenCommand = command{
	name: "issue-token",
	summary: "Issue a personal access token for a user, creating the user if needed.\n" +
		"The raw token is printed once and never stored: only its SHA-256 is.",
	example: "starter issue-token --email ada@example.com --name laptop-7 --expires-in 2160h",
	flags: func(fs *pflag.FlagSet) func(context.Context, *environment) error {
		email := fs.String("email", "", "email of the token's user (required)")
		name := fs.String("name", "daemon", "name of the token")
		expiresIn := fs.Duration("expires-in", 90*24*time.Hour, "lifetime of the token, such as 2160h")
		neverExpires := fs.Bool("never-expires", false, "issue a token without expiry")
		asJSON := fs.Bool("json", false, "print JSON instead of text")
		return func(ctx context.Context, env *environment) error {
			if *email == "" {
				return usageError{errors.New("--email is required")}
			}
			pool, err := env.database(ctx)
			if err != nil {
				return err
			}
			userID, err := seed.EnsureUser(ctx, pool, *email, *email)
			if err != nil {
				return err
			}
			spec := seed.TokenSpec{UserID: userID, Name: *name, ExpiresIn: expiresIn}
			if *neverExpires {
				spec.ExpiresIn = nil
			}
			token, err := seed.IssueToken(ctx, pool, spec)
			if err != nil {
				return err
			}
			if *asJSON {
				return writeJSON(env.stdout, map[string]string{"token_id": token.ID, "token": token.Raw})
			}
			fmt.Fprintf(env.stdout, "token id  %s\ntoken     %s\n\nThe token is shown once; store it now.\n", token.ID, token.Raw)
			return nil
		}
	},
}

var seedDemoCommand = command{
	name:    "seed-demo",
	summary: "Create the demo user, two workspaces and the tokens of three daemons.",
	example: "starter seed-demo",
	flags: func(fs *pflag.FlagSet) func(context.Context, *environment) error {
		asJSON := fs.Bool("json", false, "print JSON instead of text")
		return func(ctx context.Context, env *environment) error {
			pool, err := env.database(ctx)
			if err != nil {
				return err
			}
			daemons, err := seed.Demo(ctx, pool)
			if err != nil {
				return err
			}
			if *asJSON {
				return writeJSON(env.stdout, daemons)
			}
			for _, d := range daemons {
				fmt.Fprintf(env.stdout, "%-16s token id %s  token %s  (expected: %s)\n", d.DaemonID, d.Token.ID, d.Token.Raw, d.Expected)
			}
			fmt.Fprintln(env.stdout, "\nThe tokens are shown once; the database stores only their SHA-256.")
			return nil
		}
	},
}

var startCommand = command{
	name: "start",
	summary: "Run DaemonStartup for a daemon: renew its token, then sync its workspaces,\n" +
		"then make sure its TokenRenewal runs. Waits for the result.",
	example: "starter start --daemon-id laptop-7 --token-id 0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d --profile work",
	flags: func(fs *pflag.FlagSet) func(context.Context, *environment) error {
		daemonID := fs.String("daemon-id", "", "id of the daemon (required)")
		tokenID := fs.String("token-id", "", "id of the daemon's personal_access_token row (required)")
		profile := fs.String("profile", "", "CLI profile the daemon logged in with, shown in the login hint")
		asJSON := fs.Bool("json", false, "print JSON instead of text")
		return func(ctx context.Context, env *environment) error {
			input := daemonauth.DaemonStartupInput{
				DaemonID:     *daemonID,
				TokenID:      *tokenID,
				Profile:      *profile,
				LoginCommand: env.cfg.LoginCommand,
			}
			if err := input.Validate(); err != nil {
				return usageError{startInputErrors(err)}
			}
			c, err := env.temporalClient(ctx)
			if err != nil {
				return err
			}
			result, startErr := daemonclient.StartDaemon(ctx, c, env.cfg.Temporal.TaskQueue, input)
			if result.DaemonID != "" {
				if *asJSON {
					if err := writeJSON(env.stdout, result); err != nil {
						return err
					}
				} else {
					daemonclient.WriteStartupResult(env.stdout, result)
				}
			}
			return startErr
		}
	},
}

// startSettings maps the JSON field names that DaemonStartupInput.Validate
// starts its messages with to the flag or setting a starter user sets.
var startSettings = map[string]string{
	"daemon_id":     "--daemon-id",
	"token_id":      "--token-id",
	"profile":       "--profile",
	"login_command": "login_command (" + config.EnvName("login_command") + ")",
}

// startInputErrors rewrites the errors of DaemonStartupInput.Validate to
// name flags instead of JSON fields, one error per problem, so that
// "daemon_id is missing" reads "--daemon-id is required". A message that
// starts with no known field is kept as it is.
func startInputErrors(err error) error {
	var problems []error
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		problems = joined.Unwrap()
	} else {
		problems = []error{err}
	}

	renamed := make([]error, 0, len(problems))
	for _, problem := range problems {
		field, rest, _ := strings.Cut(problem.Error(), " ")
		setting, ok := startSettings[field]
		switch {
		case !ok:
			renamed = append(renamed, problem)
		case rest == "is missing":
			renamed = append(renamed, fmt.Errorf("%s is required", setting))
		default:
			renamed = append(renamed, fmt.Errorf("%s %s", setting, rest))
		}
	}
	return errors.Join(renamed...)
}

var statusCommand = command{
	name:    "status",
	summary: "Query a daemon's TokenRenewal: last outcome, expiry, next renewal, needs-login.",
	example: "starter status --daemon-id laptop-7",
	flags: func(fs *pflag.FlagSet) func(context.Context, *environment) error {
		daemonID := fs.String("daemon-id", "", "id of the daemon (required)")
		asJSON := fs.Bool("json", false, "print JSON instead of text")
		return func(ctx context.Context, env *environment) error {
			if *daemonID == "" {
				return usageError{errors.New("--daemon-id is required")}
			}
			c, err := env.temporalClient(ctx)
			if err != nil {
				return err
			}
			status, err := daemonclient.RenewalStatus(ctx, c, *daemonID)
			if err != nil {
				return err
			}
			if *asJSON {
				return writeJSON(env.stdout, status)
			}
			daemonclient.WriteRenewalStatus(env.stdout, status)
			return nil
		}
	},
}

var stopCommand = command{
	name:    "stop",
	summary: "Stop a daemon's TokenRenewal, for example when the daemon is retired.",
	example: "starter stop --daemon-id laptop-7 --reason 'machine retired'",
	flags: func(fs *pflag.FlagSet) func(context.Context, *environment) error {
		daemonID := fs.String("daemon-id", "", "id of the daemon (required)")
		reason := fs.String("reason", "", "reason recorded in the workflow result")
		asJSON := fs.Bool("json", false, "print JSON instead of text")
		return func(ctx context.Context, env *environment) error {
			if *daemonID == "" {
				return usageError{errors.New("--daemon-id is required")}
			}
			c, err := env.temporalClient(ctx)
			if err != nil {
				return err
			}
			result, err := daemonclient.StopRenewal(ctx, c, *daemonID, *reason)
			if err != nil {
				return err
			}
			if *asJSON {
				return writeJSON(env.stdout, result)
			}
			fmt.Fprintf(env.stdout, "Token renewal of daemon %s stopped after %d cycles (%s).\n", result.DaemonID, result.Cycles, result.StopReason)
			return nil
		}
	},
}
