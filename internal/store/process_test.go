package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/reset"
)

// helperEnv tells a re-executed test binary to act as one approving process.
const helperEnv = "RESETBOT_STORE_TEST_HELPER"

// TestApproveAcrossProcesses races several processes, each with its own connections to one
// SQLite file, to approve the same requests: SQLite's file locks alone must make every
// request approved exactly once.
func TestApproveAcrossProcesses(t *testing.T) {
	t.Parallel()
	const processes, requests = 3, 30
	path := sqliteDatabase(t)
	s := open(t, path)
	for i := range requests {
		create(t, s, pending(fmt.Sprintf("r%02d", i)))
	}

	type child struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   *bufio.Scanner
	}
	children := make([]child, processes)
	for i := range children {
		cmd := exec.Command(os.Args[0], "-test.run=^TestApproveHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), helperEnv+"="+path, "RESETBOT_STORE_TEST_OWNER="+fmt.Sprintf("process-%d", i))
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start approving process: %v", err)
		}
		children[i] = child{cmd, stdin, bufio.NewScanner(stdout)}
	}
	// Start the race only once every process has opened the database.
	for i, c := range children {
		if !waitFor(c.out, "ready") {
			t.Fatalf("process %d never got ready", i)
		}
	}
	for _, c := range children {
		fmt.Fprintln(c.stdin, "go")
		c.stdin.Close()
	}

	won := map[string][]string{} // request → processes that say they approved it
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, c := range children {
		wg.Go(func() {
			for c.out.Scan() {
				id, ok := strings.CutPrefix(c.out.Text(), "won ")
				if !ok {
					t.Logf("process %d: %s", i, c.out.Text())
					continue
				}
				mu.Lock()
				won[id] = append(won[id], fmt.Sprintf("process-%d", i))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for i, c := range children {
		if err := c.cmd.Wait(); err != nil {
			t.Errorf("approving process %d: %v", i, err)
		}
	}
	for i := range requests {
		id := fmt.Sprintf("r%02d", i)
		winners := won[id]
		if len(winners) != 1 {
			t.Errorf("%s was approved by %v, want exactly one process", id, winners)
			continue
		}
		if got := get(t, s, id); got.State != reset.Running || got.LeaseOwner != winners[0] {
			t.Errorf("%s is %s leased to %q, want running leased to %s", id, got.State, got.LeaseOwner, winners[0])
		}
	}
}

// TestApproveHelperProcess is one process of TestApproveAcrossProcesses: four goroutines, on
// the process's own Store, try to approve every request and report the ones they won.
func TestApproveHelperProcess(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("run by TestApproveAcrossProcesses")
	}
	owner := os.Getenv("RESETBOT_STORE_TEST_OWNER")
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	fmt.Println("ready")
	if !waitFor(bufio.NewScanner(os.Stdin), "go") {
		t.Fatal("never told to go")
	}
	var out sync.Mutex
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 30 {
				id := fmt.Sprintf("r%02d", i)
				_, err := s.Approve(ctx, id, reset.Actor{Name: owner}, t0, owner, time.Minute)
				switch {
				case err == nil:
					out.Lock()
					fmt.Println("won " + id)
					out.Unlock()
				case !errors.Is(err, ErrConflict):
					t.Errorf("Approve %s: %v", id, err)
				}
			}
		})
	}
	wg.Wait()
}

func waitFor(sc *bufio.Scanner, line string) bool {
	for sc.Scan() {
		if sc.Text() == line {
			return true
		}
	}
	return false
}
