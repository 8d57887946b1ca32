// Package binary builds resetbot as a user would, for tests that run it as a separate process
// (a replica killed with SIGKILL, the binary against the fakes), and gives that process the
// environment that points it at a world of fakes.
package binary

import (
	"context"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/resetbot/resetbot/internal/fake/world"
)

// Build builds cmd/resetbot into a temporary directory and returns its path. It skips the test
// when no go tool is on PATH.
func Build(t testing.TB) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	bin := filepath.Join(t.TempDir(), "resetbot")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, goTool, "build", "-o", bin, "github.com/resetbot/resetbot/cmd/resetbot").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// Env is the environment a separate resetbot process needs to reach w's fakes: their
// variables, the fakes' certificate through SSL_CERT_FILE, and an empty home directory, which
// it returns too.
func Env(t testing.TB, w *world.World) (env []string, home string) {
	t.Helper()
	home = t.TempDir()
	certFile := filepath.Join(home, "fakes.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: w.Okta.Certificate().Raw})
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	env = []string{"SSL_CERT_FILE=" + certFile, "HOME=" + home, "PATH=" + os.Getenv("PATH")}
	for k, v := range w.Env() {
		env = append(env, k+"="+v)
	}
	return env, home
}
