// Command starter runs one-off daemon-auth operations: it applies the
// database migrations, issues tokens, starts DaemonStartup for a daemon,
// and queries or stops a daemon's TokenRenewal.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"daemonauth/internal/config"
)

const usage = `Usage: starter COMMAND [flags]

Commands:
  migrate       apply pending database migrations
  register-search-attributes
                add the search attributes TokenRenewal writes to the namespace
  issue-token   issue a personal access token and print it once
  seed-demo     create the demo user, workspaces and three daemons' tokens
  start         run DaemonStartup for a daemon and print its result
  status        query a daemon's TokenRenewal
  stop          stop a daemon's TokenRenewal

Every command takes the configuration flags below; run
"starter COMMAND --help" for its own flags.

Examples:
  starter migrate
  starter issue-token --email ada@example.com --expires-in 2160h
  starter start --daemon-id laptop-7 --token-id 0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d
  starter status --daemon-id laptop-7
`

type command struct {
	name    string
	summary string
	example string
	// flags adds the command's own flags; run runs it once they are parsed.
	flags func(fs *pflag.FlagSet) func(ctx context.Context, env *environment) error
}

var commands = []command{migrateCommand, registerSearchAttributesCommand, issueTokenCommand, seedDemoCommand, startCommand, statusCommand, stopCommand}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		fs := pflag.NewFlagSet("starter", pflag.ContinueOnError)
		config.AddFlags(fs)
		fmt.Fprintf(stderr, "\nConfiguration flags:\n%s", fs.FlagUsages())
		if len(args) == 0 {
			return 2
		}
		return 0
	}

	var cmd *command
	for i := range commands {
		if commands[i].name == args[0] {
			cmd = &commands[i]
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "starter: unknown command %q; run \"starter --help\" for the list\n", args[0])
		return 2
	}

	fs := pflag.NewFlagSet("starter "+cmd.name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	config.AddFlags(fs)
	runCmd := cmd.flags(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: starter %s [flags]\n\n%s\n\nExample:\n  %s\n\nFlags:\n%s", cmd.name, cmd.summary, cmd.example, fs.FlagUsages())
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "starter %s: unexpected argument %q\n", cmd.name, fs.Arg(0))
		return 2
	}

	cfg, err := config.Load(fs)
	if err != nil {
		fmt.Fprintf(stderr, "starter: %v\n", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	env := &environment{cfg: cfg, stdout: stdout, stderr: stderr}
	defer env.close()
	if err := runCmd(ctx, env); err != nil {
		var usageErr usageError
		if errors.As(err, &usageErr) {
			fmt.Fprintf(stderr, "starter %s: %v\n", cmd.name, err)
			return 2
		}
		fmt.Fprintf(stderr, "starter %s: %v\n", cmd.name, err)
		return 1
	}
	return 0
}

// usageError is a mistake in the command line, reported with exit status 2.
type usageError struct{ error }

func writeJSON(w io.Writer, v any) error {
	encoder := json.NewEncoder(w)
	encoder.SetIndent("", "  ")
	return encoder.Encode(v)
}
