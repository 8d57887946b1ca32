// Package cli is resetbot's command line: it parses a subcommand's flags, reads the
// configuration, runs the subcommand through internal/app and the request lifecycle, and turns
// the end into the exit codes the README documents: 0 done, 1 failed or unreachable, 2 bad
// usage or configuration.
package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/resetbot/resetbot/internal/app"
	"github.com/resetbot/resetbot/internal/config"
)

// Exit codes the README documents.
const (
	ExitOK      = 0
	ExitFailed  = 1
	ExitUsage   = 2
	exitRuntime = 1
)

// Shorter names inside the package.
const (
	exitOK     = ExitOK
	exitFailed = ExitFailed
	exitUsage  = ExitUsage
)

// Env is where one invocation reads its configuration and writes its output. Tests build their
// own, so they run in parallel without touching the process environment.
type Env struct {
	Getenv config.Getenv
	Stdout io.Writer
	Stderr io.Writer
	// Roots, when set, is trusted in addition to the system's roots: the demo and tests use it
	// for the local fakes' certificate.
	Roots *x509.CertPool
	// Lease, when set, replaces a command-line reset's lease; tests shorten it.
	Lease time.Duration
	// Version is what `resetbot version` prints.
	Version string
}

// Command is a subcommand: its name, one line for the usage text, and what it does.
type Command struct {
	Name    string
	Summary string
	Run     func(ctx context.Context, env Env, args []string) int
}

// Main runs the subcommand args name and returns the exit code. extra adds subcommands kept
// outside this package (the demo, which starts fakes the rest of resetbot does not need).
func Main(ctx context.Context, args []string, env Env, extra ...Command) int {
	a := &invocation{env: env, stdout: env.Stdout, stderr: env.Stderr, roots: env.Roots, lease: env.Lease, extra: extra}
	return a.main(ctx, args)
}

// invocation is one run of the command line.
type invocation struct {
	env    Env
	stdout io.Writer
	stderr io.Writer
	roots  *x509.CertPool
	lease  time.Duration
	extra  []Command
}

func (a *invocation) commands() []Command {
	own := func(f func(a *invocation, ctx context.Context, args []string) int) func(context.Context, Env, []string) int {
		return func(ctx context.Context, _ Env, args []string) int { return f(a, ctx, args) }
	}
	cmds := []Command{
		{"run", "connect to Slack (Socket Mode) and serve /reset-sessions", own((*invocation).runBot)},
		{"reset", "sign one person out everywhere from the command line", own((*invocation).reset)},
		{"check", "validate configuration and try each system's credentials", own((*invocation).check)},
		{"retry", "run again the systems that failed in a request", own((*invocation).retry)},
		{"audit", "print the audit log of requests, approvals and outcomes", own((*invocation).audit)},
	}
	cmds = append(cmds, a.extra...)
	return append(cmds, Command{"version", "print the version", own((*invocation).version)})
}

func (a *invocation) main(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		a.usage(a.stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range a.commands() {
		if c.Name == args[0] {
			return c.Run(ctx, a.env, args[1:])
		}
	}
	fmt.Fprintf(a.stderr, "resetbot: unknown command %q\n\n", args[0])
	a.usage(a.stderr)
	return exitUsage
}

func (a *invocation) usage(w io.Writer) {
	fmt.Fprintln(w, "usage: resetbot <command> [flags]\n\ncommands:")
	for _, c := range a.commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.Name, c.Summary)
	}
	fmt.Fprintln(w, "\nRun 'resetbot <command> --help' for a command's flags. Configuration is read from the environment; see the README.")
}

// flags returns a FlagSet that prints its usage to the invocation's output and never exits.
func (a *invocation) flags(name, synopsis string) *flag.FlagSet { return Flags(a.env, name, synopsis) }

// Flags returns a FlagSet for a subcommand that prints its usage to env's output and never
// exits.
func Flags(env Env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: resetbot %s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags; ok false means the caller returns code at once (help asked for, or bad flags).
func (a *invocation) parse(fs *flag.FlagSet, args []string) (code int, ok bool) {
	return Parse(a.env, fs, args)
}

// Parse parses a subcommand's flags; ok false means the caller returns code at once (help
// asked for, or bad flags).
func Parse(env Env, fs *flag.FlagSet, args []string) (code int, ok bool) {
	for _, arg := range args {
		if arg == "--" {
			break
		}
		if arg == "-h" || arg == "-help" || arg == "--help" {
			fs.SetOutput(env.Stdout) // asked-for help goes to stdout, so it can be paged
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	return 0, true
}

func (a *invocation) version(_ context.Context, args []string) int {
	fs := a.flags("version", "version")
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	fmt.Fprintf(a.stdout, "resetbot %s\n", a.env.Version)
	return exitOK
}

// exitFor is the exit code of a startup error: 2 for configuration, 1 for anything else.
func exitFor(err error) int {
	if app.IsConfig(err) {
		return exitUsage
	}
	return exitRuntime
}
