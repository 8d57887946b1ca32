package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// bom is the UTF-8 byte-order mark Windows editors (Notepad, Excel's "CSV UTF-8") write first.
const bom = "\xEF\xBB\xBF"

func TestReadPeopleIgnoresWhatEditorsAdd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file string
		want       []string
	}{
		{"a byte-order mark before the first person", bom + "alice@example.com\nbob@example.com\n", []string{"alice@example.com", "bob@example.com"}},
		{"CRLF line ends", "alice@example.com\r\nbob@example.com\r\n", []string{"alice@example.com", "bob@example.com"}},
		{"a byte-order mark before a comment", bom + "# campaign 7\r\nalice@example.com\r\n", []string{"alice@example.com"}},
		{"a last line without its line end", bom + "alice@example.com\r\nbob@example.com", []string{"alice@example.com", "bob@example.com"}},
		{"a byte-order mark alone names nobody", bom + "\r\n", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := readPeople(strings.NewReader(tc.file))
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("readPeople(%q) = %q, %v; want %q", tc.file, got, err, tc.want)
			}
		})
	}
}

// TestResetFileFromWindowsResetsTheFirstPersonToo: a file saved by a Windows editor, with a
// byte-order mark and CRLF line ends, signs out its first person like any other, rather than
// reporting them not found in Okta.
func TestResetFileFromWindowsResetsTheFirstPersonToo(t *testing.T) {
	t.Parallel()
	w := cliWorld(t)
	path := filepath.Join(t.TempDir(), "users.txt")
	file := bom + w.Alice.Email + "\r\n" + w.Bob.Email + "\r\n" + w.Oscar.Email + "\r\n"
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, w, "reset", "--file", path, "--reason", "phish")
	if r.code != exitOK {
		t.Fatalf("want exit 0, everyone found:\n%s", r)
	}
	lines := personLines(r.stdout)
	if want := w.Alice.Email + ": okta revoked, google revoked, zoom revoked, microsoft revoked, slack revoked"; lines[w.Alice.Email] != want || len(lines) != 3 {
		t.Errorf("want a line for each of the 3 people, the first %q:\n%s", want, r)
	}
	if got := w.SignOuts(w.Alice); got["okta"] != 1 || got["google"] != 1 || got["zoom"] != 1 || got["microsoft"] != 1 || got["slack"] != 1 {
		t.Errorf("%s, first in the file, signed out %v, want once everywhere", w.Alice.Email, got)
	}
}
