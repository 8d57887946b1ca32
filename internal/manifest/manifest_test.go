// Package manifest_test checks manifest.yml against Slack's published manifest schema and
// against what the bot relies on, so a manifest edit that Slack would refuse fails here first.
package manifest_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dlclark/regexp2/v2"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

func TestManifestValidatesAgainstSlackSchema(t *testing.T) {
	t.Parallel()
	// Slack's schema, from slackapi/manifest-schema (MIT): see testdata/README.md. It lives in
	// the repository so this test runs on every clone, CI included; missing is a failure.
	schemaJSON, err := os.ReadFile(filepath.Join("testdata", "manifest.schema.1.0.0.json"))
	if err != nil {
		t.Fatalf("reading Slack's manifest schema: %v", err)
	}
	doc := loadManifest(t)

	schemaDoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	// Slack's schema uses ECMAScript look-aheads, which Go's regexp lacks.
	c.UseRegexpEngine(ecmaRegexp)
	if err := c.AddResource("manifest.schema.json", schemaDoc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("manifest.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(doc); err != nil {
		t.Fatalf("manifest.yml does not validate against Slack's schema:\n%v", err)
	}
}

func TestManifestHasWhatTheBotNeedsAndNoMore(t *testing.T) {
	t.Parallel()
	var m struct {
		Features struct {
			SlashCommands []struct {
				Command      string `json:"command"`
				ShouldEscape bool   `json:"should_escape"`
			} `json:"slash_commands"`
		} `json:"features"`
		OAuth struct {
			Scopes struct {
				Bot []string `json:"bot"`
			} `json:"scopes"`
		} `json:"oauth_config"`
		Settings struct {
			Interactivity struct {
				Enabled bool `json:"is_enabled"`
			} `json:"interactivity"`
			SocketMode bool `json:"socket_mode_enabled"`
		} `json:"settings"`
	}
	raw, _ := json.Marshal(loadManifest(t))
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Features.SlashCommands) != 1 || m.Features.SlashCommands[0].Command != "/reset-sessions" || !m.Features.SlashCommands[0].ShouldEscape {
		t.Errorf("slash commands = %+v; the bot parses escaped mentions from /reset-sessions", m.Features.SlashCommands)
	}
	if !m.Settings.SocketMode || !m.Settings.Interactivity.Enabled {
		t.Errorf("socket mode %v, interactivity %v: both are needed", m.Settings.SocketMode, m.Settings.Interactivity.Enabled)
	}
	want := []string{"chat:write", "commands", "users:read", "users:read.email"}
	got := slices.Sorted(slices.Values(m.OAuth.Scopes.Bot))
	if !slices.Equal(got, want) {
		t.Errorf("bot scopes = %v, want exactly %v", got, want)
	}
}

func loadManifest(t *testing.T) any {
	t.Helper()
	y, err := os.ReadFile(filepath.Join("..", "..", "manifest.yml"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(y)
	if err != nil {
		t.Fatalf("manifest.yml is not YAML: %v", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

type ecma struct{ re *regexp2.Regexp }

func (e ecma) MatchString(s string) bool { ok, err := e.re.MatchString(s); return ok && err == nil }
func (e ecma) String() string            { return e.re.String() }

func ecmaRegexp(expr string) (jsonschema.Regexp, error) {
	re, err := regexp2.Compile(expr, regexp2.ECMAScript)
	if err != nil {
		return nil, err
	}
	return ecma{re}, nil
}
