// Command resetbot signs a compromised person out of Okta, Google Workspace, Zoom and
// Microsoft 365 at once, from Slack (run), the command line (reset) or a demo against local
// fakes (demo). Everything it does lives in internal/cli and the packages beneath.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/resetbot/resetbot/internal/cli"
	"github.com/resetbot/resetbot/internal/demo"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := cli.Env{Getenv: os.LookupEnv, Stdout: os.Stdout, Stderr: os.Stderr, Version: version}
	code := cli.Main(ctx, os.Args[1:], env, demo.Command())
	stop()
	os.Exit(code)
}
