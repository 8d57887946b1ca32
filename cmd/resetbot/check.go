package main

import (
	"context"
	"fmt"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/resetbot/resetbot/internal/config"
)

// check validates configuration and then asks each configured system for a token and one
// harmless read, so an operator learns about a missing permission before an incident does.
func (a *app) check(ctx context.Context, args []string) int {
	fs := a.flags("check", "check")
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	w, err := a.wireFor(ctx, config.Need{})
	if err != nil {
		fmt.Fprintf(a.stderr, "resetbot check: %v\n", err)
		return exitUsage
	}
	fmt.Fprintln(a.stdout, "Configuration: valid")
	if w.cfg.Slack.BotToken == "" || w.cfg.Slack.AppToken == "" {
		fmt.Fprintln(a.stdout, "Slack:         SLACK_BOT_TOKEN and SLACK_APP_TOKEN are needed for `resetbot run`")
	}

	results := make([]string, len(w.systems))
	failed := false
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, s := range w.systems {
		if s.provider == nil {
			results[i] = "skipped\t" + s.skip
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			start := time.Now()
			err := s.provider.Check(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = true
				results[i] = "FAILED\t" + err.Error()
				return
			}
			results[i] = fmt.Sprintf("ok\ttoken obtained, read allowed (%s)", time.Since(start).Round(time.Millisecond))
		}()
	}
	wg.Wait()
	fmt.Fprintln(a.stdout, "\nSystems:")
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	for i, s := range w.systems {
		fmt.Fprintf(tw, "  %s\t%s\n", s.name, results[i])
	}
	_ = tw.Flush()
	if failed {
		return exitFailed
	}
	return exitOK
}
