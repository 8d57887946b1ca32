// Command resetbot signs a compromised person out of Okta, Google Workspace, Zoom and
// Microsoft 365 at once, from Slack (run), the command line (reset) or a demo against local
// fakes (demo).
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/resetbot/resetbot/internal/config"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes the README documents.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	exitRuntime = 1
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{env: os.LookupEnv, stdout: os.Stdout, stderr: os.Stderr}
	os.Exit(a.main(ctx, os.Args[1:]))
}

// app is one invocation: where it reads configuration and writes output. Tests build their own
// so they run in parallel without touching the process environment.
type app struct {
	env    config.Getenv
	stdout io.Writer
	stderr io.Writer
	// roots, when set, is trusted in addition to the system's roots: the demo and tests use it
	// for the local fakes' certificate.
	roots *x509.CertPool
	// lease, when set, replaces cliLease; tests shorten it.
	lease time.Duration
}

type command struct {
	name    string
	summary string
	run     func(a *app, ctx context.Context, args []string) int
}

func (a *app) commands() []command {
	return []command{
		{"run", "connect to Slack (Socket Mode) and serve /reset-sessions", (*app).runBot},
		{"reset", "sign one person out everywhere from the command line", (*app).reset},
		{"check", "validate configuration and try each system's credentials", (*app).check},
		{"audit", "print the audit log of requests, approvals and outcomes", (*app).audit},
		{"demo", "play a reset against built-in fakes; --serve keeps them up for the other commands", (*app).demo},
		{"version", "print the version", (*app).version},
	}
}

func (a *app) main(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		a.usage(a.stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range a.commands() {
		if c.name == args[0] {
			return c.run(a, ctx, args[1:])
		}
	}
	fmt.Fprintf(a.stderr, "resetbot: unknown command %q\n\n", args[0])
	a.usage(a.stderr)
	return exitUsage
}

func (a *app) usage(w io.Writer) {
	fmt.Fprintln(w, "usage: resetbot <command> [flags]\n\ncommands:")
	for _, c := range a.commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'resetbot <command> --help' for a command's flags. Configuration is read from the environment; see the README.")
}

// flags returns a FlagSet that prints its usage to the app's output and never exits.
func (a *app) flags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: resetbot %s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags; ok false means the caller returns code at once (help asked for, or bad flags).
func (a *app) parse(fs *flag.FlagSet, args []string) (code int, ok bool) {
	for _, arg := range args {
		if arg == "--" {
			break
		}
		if arg == "-h" || arg == "-help" || arg == "--help" {
			fs.SetOutput(a.stdout) // asked-for help goes to stdout, so it can be paged
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

func (a *app) version(_ context.Context, args []string) int {
	fs := a.flags("version", "version")
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	fmt.Fprintf(a.stdout, "resetbot %s\n", version)
	return exitOK
}
