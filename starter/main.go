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

Every command takes the configuration flags below. Run
"starter COMMAND --help" or "starter help COMMAND" for its own flags.

Examples:
  starter migrate
  starter issue-token --email ada@example.com --expires-in 2160h
  starter start --daemon-id laptop-7 --token-id 0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d
  starter status --daemon-id laptop-7
`

// listHint ends every message about an unknown command.
const listHint = "Run \"starter --help\" for the list of commands.\n"

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

// run runs the command in args and returns the exit status: 0 on success,
// 1 when the command failed, 2 for a usage error. Requested help goes to
// stdout. Errors, and the help shown when the command is missing, go to
// stderr.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, topLevelHelp())
		return 2
	}
	switch args[0] {
	case "-h", "--help":
		fmt.Fprint(stdout, topLevelHelp())
		return 0
	case "help":
		return runHelp(args[1:], stdout, stderr)
	}

	cmd := findCommand(args[0])
	if cmd == nil {
		fmt.Fprintf(stderr, "starter: unknown command %q\n%s", args[0], listHint)
		return 2
	}
	prefix := "starter " + cmd.name

	fs, runCmd := cmd.newFlagSet()
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprint(stdout, cmd.help(fs))
			return 0
		}
		cmd.reportUsageError(stderr, err)
		return 2
	}
	if fs.NArg() > 0 {
		cmd.reportUsageError(stderr, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
		return 2
	}

	cfg, err := config.Load(fs)
	if err != nil {
		printErrors(stderr, prefix, err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	env := &environment{cfg: cfg, stdout: stdout, stderr: stderr}
	defer env.close()
	if err := runCmd(ctx, env); err != nil {
		var usageErr usageError
		if errors.As(err, &usageErr) {
			cmd.reportUsageError(stderr, usageErr.error)
			return 2
		}
		printErrors(stderr, prefix, err)
		return 1
	}
	return 0
}

// runHelp runs "starter help [COMMAND]".
func runHelp(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stdout, topLevelHelp())
		return 0
	}
	if len(args) > 1 {
		fmt.Fprintf(stderr, "starter help: unexpected argument %q\nRun \"starter help COMMAND\" for one command's help.\n", args[1])
		return 2
	}

	cmd := findCommand(args[0])
	if cmd == nil {
		fmt.Fprintf(stderr, "starter help: unknown command %q\n%s", args[0], listHint)
		return 2
	}
	fs, _ := cmd.newFlagSet()
	fmt.Fprint(stdout, cmd.help(fs))
	return 0
}

func topLevelHelp() string {
	fs := pflag.NewFlagSet("starter", pflag.ContinueOnError)
	config.AddFlags(fs)
	return fmt.Sprintf("%s\nConfiguration flags:\n%s", usage, fs.FlagUsages())
}

func findCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// newFlagSet returns the command's flags, the configuration flags among
// them, and the function that runs the command once they are parsed.
func (c *command) newFlagSet() (*pflag.FlagSet, func(context.Context, *environment) error) {
	fs := pflag.NewFlagSet("starter "+c.name, pflag.ContinueOnError)
	// pflag calls Usage on --help and -h, and its default writes to
	// stderr. run prints the requested help itself, to stdout.
	fs.Usage = func() {}
	config.AddFlags(fs)
	return fs, c.flags(fs)
}

func (c *command) help(fs *pflag.FlagSet) string {
	return fmt.Sprintf("Usage: starter %s [flags]\n\n%s\n\nExample:\n  %s\n\nFlags:\n%s", c.name, c.summary, c.example, fs.FlagUsages())
}

// reportUsageError prints each problem in err on its own line, then the
// command that shows the command's flags.
func (c *command) reportUsageError(w io.Writer, err error) {
	printErrors(w, "starter "+c.name, err)
	fmt.Fprintf(w, "Run \"starter %s --help\" for usage.\n", c.name)
}

// printErrors prints err after prefix. An error made by errors.Join
// gets one line per joined error, each with the prefix.
func printErrors(w io.Writer, prefix string, err error) {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			printErrors(w, prefix, e)
		}
		return
	}
	fmt.Fprintf(w, "%s: %v\n", prefix, err)
}

// usageError is a mistake in the command line, reported with exit status 2.
type usageError struct{ error }

func writeJSON(w io.Writer, v any) error {
	encoder := json.NewEncoder(w)
	encoder.SetIndent("", "  ")
	return encoder.Encode(v)
}
