package config

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) Getenv {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadRejectsHalfConfiguredSystemsNamingTheVariable(t *testing.T) {
	t.Parallel()
	key := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(key, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		env      map[string]string
		wantErr  []string
		noSecret string
	}{
		{name: "nothing set is valid: every system is skipped", env: map[string]string{}},
		{name: "zoom without its secret", env: map[string]string{"ZOOM_ACCOUNT_ID": "a", "ZOOM_CLIENT_ID": "c"},
			wantErr: []string{"ZOOM_CLIENT_SECRET not set", "ZOOM_CLIENT_SECRET or ZOOM_CLIENT_SECRET_FILE, or none to skip Zoom"}},
		{name: "zoom secret alone names both others, never the secret", env: map[string]string{"ZOOM_CLIENT_SECRET": "s3cr3t-value"},
			wantErr: []string{"ZOOM_ACCOUNT_ID and ZOOM_CLIENT_ID not set"}, noSecret: "s3cr3t-value"},
		{name: "azure without tenant", env: map[string]string{"AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "hunter2"},
			wantErr: []string{"AZURE_TENANT_ID not set", "AZURE_CLIENT_ID, AZURE_CLIENT_SECRET or AZURE_CLIENT_SECRET_FILE, AZURE_TENANT_ID, or none"}, noSecret: "hunter2"},
		{name: "google key without subject", env: map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": key},
			wantErr: []string{"GOOGLE_ADMIN_SUBJECT is not set"}},
		{name: "google key file missing", env: map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": "/nope/key.json", "GOOGLE_ADMIN_SUBJECT": "a@b"},
			wantErr: []string{"GOOGLE_APPLICATION_CREDENTIALS: cannot read /nope/key.json"}},
		{name: "okta org without credentials", env: map[string]string{"OKTA_ORG_URL": "https://x.okta.com"},
			wantErr: []string{"neither OKTA_API_TOKEN nor OKTA_CLIENT_ID", "OKTA_API_TOKEN or OKTA_API_TOKEN_FILE"}},
		{name: "okta token without org", env: map[string]string{"OKTA_API_TOKEN": "00abc"},
			wantErr: []string{"OKTA_ORG_URL is not set"}, noSecret: "00abc"},
		{name: "okta service app without key", env: map[string]string{"OKTA_ORG_URL": "https://x.okta.com", "OKTA_CLIENT_ID": "0oa1"},
			wantErr: []string{"OKTA_PRIVATE_KEY_FILE is not"}},
		{name: "bad url", env: map[string]string{"ZOOM_API_URL": "api.zoom.us"}, wantErr: []string{"ZOOM_API_URL is not a URL"}},
		{name: "bad ttl", env: map[string]string{"RESETBOT_REQUEST_TTL": "soon"}, wantErr: []string{"RESETBOT_REQUEST_TTL must be a positive duration"}},
		{name: "bad bool", env: map[string]string{"RESETBOT_REQUIRE_PEER_APPROVAL": "yes please"}, wantErr: []string{"RESETBOT_REQUIRE_PEER_APPROVAL must be true or false"}},
		{name: "bad log level", env: map[string]string{"RESETBOT_LOG_LEVEL": "verbose"}, wantErr: []string{`RESETBOT_LOG_LEVEL must be debug, info, warn or error, not "verbose"`}},
		{name: "bad protected policy", env: map[string]string{"RESETBOT_PROTECTED_POLICY": "allow"}, wantErr: []string{`RESETBOT_PROTECTED_POLICY must be refuse or approve, not "allow"`}},
		{name: "every problem at once", env: map[string]string{"ZOOM_CLIENT_ID": "c", "AZURE_TENANT_ID": "t"},
			wantErr: []string{"ZOOM_ACCOUNT_ID", "AZURE_CLIENT_ID"}},
		{name: "a rate of zero", env: map[string]string{"RESETBOT_RATE_OKTA": "0"},
			wantErr: []string{`RESETBOT_RATE_OKTA must be a positive number of requests per second such as 10 or 0.5, not "0"`}},
		{name: "a negative rate", env: map[string]string{"RESETBOT_RATE_GOOGLE": "-5"}, wantErr: []string{"RESETBOT_RATE_GOOGLE must be a positive number"}},
		{name: "a rate with a unit", env: map[string]string{"RESETBOT_RATE_ZOOM": "10/s"}, wantErr: []string{"RESETBOT_RATE_ZOOM must be a positive number"}},
		{name: "an infinite rate", env: map[string]string{"RESETBOT_RATE_MICROSOFT": "Inf"}, wantErr: []string{"RESETBOT_RATE_MICROSOFT must be a positive number"}},
		{name: "a rate that is not a number", env: map[string]string{"RESETBOT_RATE_OKTA": "NaN"}, wantErr: []string{"RESETBOT_RATE_OKTA must be a positive number"}},
		{name: "slack's rate per minute", env: map[string]string{"RESETBOT_RATE_SLACK": "20/min"}, wantErr: []string{"RESETBOT_RATE_SLACK must be a positive number of requests per second such as 10 or 0.5"}},
		{name: "an id attribute that is an expression", env: map[string]string{"RESETBOT_MICROSOFT_ID_ATTRIBUTE": "user.profile.msUpn"},
			wantErr: []string{`RESETBOT_MICROSOFT_ID_ATTRIBUTE must be the variable name of an Okta profile attribute (letters, digits and _, such as msUpn), not "user.profile.msUpn"`}},
		{name: "an id attribute with a space", env: map[string]string{"RESETBOT_GOOGLE_ID_ATTRIBUTE": "google email"}, wantErr: []string{"RESETBOT_GOOGLE_ID_ATTRIBUTE must be"}},
		{name: "no request in flight", env: map[string]string{"RESETBOT_CONCURRENCY": "0"},
			wantErr: []string{`RESETBOT_CONCURRENCY must be a whole number of at least 1 such as 8, not "0"`}},
		{name: "half a request in flight", env: map[string]string{"RESETBOT_CONCURRENCY": "1.5"}, wantErr: []string{"RESETBOT_CONCURRENCY must be a whole number"}},
		{name: "every bad pace named", env: map[string]string{"RESETBOT_RATE_ZOOM": "fast", "RESETBOT_CONCURRENCY": "many"},
			wantErr: []string{"RESETBOT_RATE_ZOOM", "RESETBOT_CONCURRENCY"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(envOf(tt.env))
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load accepted %v", tt.env)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if tt.noSecret != "" && strings.Contains(err.Error(), tt.noSecret) {
				t.Errorf("error leaks a secret: %q", err)
			}
		})
	}
}

func TestLoadDefaultsAndLists(t *testing.T) {
	t.Parallel()
	c, err := Load(envOf(map[string]string{
		"RESETBOT_REQUESTER_GROUPS": " Security Responders , 00g1 ,,",
		"ZOOM_API_URL":              "https://zoom.example/v2/",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.RequesterGroups, "|"); got != "Security Responders|00g1" {
		t.Errorf("requester groups = %q", got)
	}
	if c.RequestTTL != 15*time.Minute || c.DatabaseURL != "resetbot.db" || c.Slack.APIURL != "https://slack.com/api/" {
		t.Errorf("defaults: ttl=%s db=%s slack=%s", c.RequestTTL, c.DatabaseURL, c.Slack.APIURL)
	}
	if c.Zoom.APIURL != "https://zoom.example/v2" || c.Zoom.Configured() {
		t.Errorf("zoom = %+v", c.Zoom)
	}
	if !c.RequirePeerApproval || c.ProtectedPolicy != ProtectedRefuse || len(c.ProtectedGroups) != 0 {
		t.Errorf("by default a second person approves and protected people are refused: peer=%v protected=%q %v",
			c.RequirePeerApproval, c.ProtectedPolicy, c.ProtectedGroups)
	}
	c, err = Load(envOf(map[string]string{"RESETBOT_REQUIRE_PEER_APPROVAL": "false", "RESETBOT_PROTECTED_POLICY": "Approve",
		"RESETBOT_PROTECTED_GROUPS": "Break Glass, 00gGLASS"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.RequirePeerApproval || c.ProtectedPolicy != ProtectedApprove || strings.Join(c.ProtectedGroups, "|") != "Break Glass|00gGLASS" {
		t.Errorf("opt-outs not read: peer=%v protected=%q %v", c.RequirePeerApproval, c.ProtectedPolicy, c.ProtectedGroups)
	}
}

func TestIDAttributes(t *testing.T) {
	t.Parallel()
	c, err := Load(envOf(map[string]string{
		"RESETBOT_MICROSOFT_ID_ATTRIBUTE": " msUpn ", "RESETBOT_GOOGLE_ID_ATTRIBUTE": "googleEmail",
		"RESETBOT_ZOOM_ID_ATTRIBUTE": "zoom_email", "RESETBOT_SLACK_ID_ATTRIBUTE": "slackEmail",
		"RESETBOT_OKTA_ID_ATTRIBUTE": "ignored: okta finds people by their Okta id",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"microsoft": "msUpn", "google": "googleEmail", "zoom": "zoom_email", "slack": "slackEmail"}
	if !maps.Equal(c.IDAttributes, want) {
		t.Errorf("id attributes = %v, want %v", c.IDAttributes, want)
	}
	if c, err = Load(envOf(nil)); err != nil || len(c.IDAttributes) != 0 {
		t.Errorf("with none set: %v, %v; want none", c.IDAttributes, err)
	}
}

func TestRequireNamesWhatACommandNeeds(t *testing.T) {
	t.Parallel()
	c, err := Load(envOf(map[string]string{"SLACK_BOT_TOKEN": "xapp-wrong-kind"}))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Require(Need{Slack: true, Policy: true})
	for _, w := range []string{"OKTA_ORG_URL is not set", "SLACK_BOT_TOKEN does not start with xoxb-", "SLACK_APP_TOKEN is not set", "given in SLACK_APP_TOKEN or in the file SLACK_APP_TOKEN_FILE names", "RESETBOT_REQUESTER_GROUPS is not set"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Require error %v does not say %q", err, w)
		}
	}
	if err != nil && strings.Contains(err.Error(), "xapp-wrong-kind") {
		t.Errorf("error leaks the token: %v", err)
	}
}

func TestLoadForNamesEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	_, err := LoadFor(envOf(map[string]string{"RESETBOT_REQUEST_TTL": "soon", "SLACK_BOT_TOKEN": "xoxp-user-token"}), Need{Slack: true, Policy: true})
	for _, w := range []string{"RESETBOT_REQUEST_TTL must be a positive duration", "OKTA_ORG_URL is not set", "SLACK_BOT_TOKEN does not start with xoxb-", "RESETBOT_REQUESTER_GROUPS is not set"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("LoadFor error %v does not say %q", err, w)
		}
	}
	if err != nil && strings.Count(err.Error(), "configuration:") != 1 {
		t.Errorf("one error should read as one list: %v", err)
	}
}

func TestOktaHookPolicies(t *testing.T) {
	t.Parallel()
	const secret = "0123456789abcdef-hook-secret"
	ready := map[string]string{"RESETBOT_OKTA_HOOK_SECRET": secret, "RESETBOT_ALERT_CHANNEL": "C0ALERTS", "RESETBOT_HTTP_ADDR": ":8080"}
	with := func(extra map[string]string) map[string]string {
		m := maps.Clone(ready)
		maps.Copy(m, extra)
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    [3]EventPolicy // suspend, suspicious activity, admin password reset
		enabled bool
		wantErr []string
	}{
		{name: "nothing set: the hook is off and needs nothing", env: map[string]string{},
			want: [3]EventPolicy{PolicyOff, PolicyOff, PolicyOff}},
		{name: "a configured hook gets the defaults", env: ready,
			want: [3]EventPolicy{PolicyAuto, PolicyApprove, PolicyApprove}, enabled: true},
		{name: "policies are read case-insensitively", env: with(map[string]string{"RESETBOT_EVENT_SUSPEND": "Approve", "RESETBOT_EVENT_SUSPICIOUS_ACTIVITY": "AUTO", "RESETBOT_EVENT_ADMIN_PASSWORD_RESET": "off"}),
			want: [3]EventPolicy{PolicyApprove, PolicyAuto, PolicyOff}, enabled: true},
		{name: "every event off needs no secret", env: map[string]string{"RESETBOT_ALERT_CHANNEL": "C0ALERTS", "RESETBOT_EVENT_SUSPEND": "off", "RESETBOT_EVENT_SUSPICIOUS_ACTIVITY": "off", "RESETBOT_EVENT_ADMIN_PASSWORD_RESET": "off"},
			want: [3]EventPolicy{PolicyOff, PolicyOff, PolicyOff}},
		{name: "a policy alone names the three variables it needs", env: map[string]string{"RESETBOT_EVENT_SUSPEND": "auto"},
			wantErr: []string{"RESETBOT_EVENT_SUSPEND=auto", "RESETBOT_OKTA_HOOK_SECRET", "RESETBOT_ALERT_CHANNEL", "RESETBOT_HTTP_ADDR"}},
		{name: "a secret without a channel or listener", env: map[string]string{"RESETBOT_OKTA_HOOK_SECRET": secret},
			wantErr: []string{"RESETBOT_ALERT_CHANNEL", "RESETBOT_HTTP_ADDR"}},
		{name: "a channel without a secret", env: map[string]string{"RESETBOT_ALERT_CHANNEL": "C0ALERTS", "RESETBOT_HTTP_ADDR": ":8080"},
			wantErr: []string{"RESETBOT_OKTA_HOOK_SECRET or RESETBOT_OKTA_HOOK_SECRET_FILE (the secret Okta sends in Authorization)"}},
		{name: "a bad policy word names its variable", env: with(map[string]string{"RESETBOT_EVENT_SUSPICIOUS_ACTIVITY": "yes"}),
			wantErr: []string{`RESETBOT_EVENT_SUSPICIOUS_ACTIVITY must be auto, approve or off, not "yes"`}},
		{name: "a short secret is refused without being echoed", env: with(map[string]string{"RESETBOT_OKTA_HOOK_SECRET": "hunter2"}),
			wantErr: []string{"RESETBOT_OKTA_HOOK_SECRET is too short"}},
		{name: "a header name with a colon", env: with(map[string]string{"RESETBOT_OKTA_HOOK_HEADER": "Authorization: x"}),
			wantErr: []string{"RESETBOT_OKTA_HOOK_HEADER is not an HTTP header name"}},
		{name: "a listen address without a port", env: map[string]string{"RESETBOT_HTTP_ADDR": "localhost"},
			wantErr: []string{"RESETBOT_HTTP_ADDR must be host:port"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(envOf(tt.env))
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("Load accepted %v", tt.env)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				for _, s := range []string{secret, "hunter2"} {
					if strings.Contains(err.Error(), s) {
						t.Errorf("error leaks the hook secret: %q", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			h := c.OktaHook
			if got := [3]EventPolicy{h.Suspend, h.SuspiciousActivity, h.AdminPasswordReset}; got != tt.want {
				t.Errorf("policies = %v; want %v", got, tt.want)
			}
			if h.Enabled() != tt.enabled {
				t.Errorf("Enabled() = %v; want %v", h.Enabled(), tt.enabled)
			}
			if h.Header != "Authorization" {
				t.Errorf("header = %q; want the default Authorization", h.Header)
			}
		})
	}
}

func TestPace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		env             map[string]string
		wantRates       map[string]float64
		wantConcurrency int
	}{
		{name: "defaults inside each provider's published limit", env: map[string]string{},
			wantRates:       map[string]float64{"okta": 10, "google": 20, "zoom": 10, "microsoft": 15, "slack": 0.3},
			wantConcurrency: 8},
		{name: "each rate and the concurrency set apart",
			env: map[string]string{"RESETBOT_RATE_OKTA": "25", "RESETBOT_RATE_GOOGLE": " 0.5 ", "RESETBOT_RATE_ZOOM": "1e1",
				"RESETBOT_RATE_MICROSOFT": "40", "RESETBOT_RATE_SLACK": "1", "RESETBOT_CONCURRENCY": "3"},
			wantRates:       map[string]float64{"okta": 25, "google": 0.5, "zoom": 10, "microsoft": 40, "slack": 1},
			wantConcurrency: 3},
		{name: "one rate set leaves the others at their defaults", env: map[string]string{"RESETBOT_RATE_ZOOM": "2"},
			wantRates:       map[string]float64{"okta": 10, "google": 20, "zoom": 2, "microsoft": 15, "slack": 0.3},
			wantConcurrency: 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(envOf(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(c.Pace.Rates, tt.wantRates) || c.Pace.Concurrency != tt.wantConcurrency {
				t.Errorf("pace = %v, %d in flight; want %v, %d", c.Pace.Rates, c.Pace.Concurrency, tt.wantRates, tt.wantConcurrency)
			}
		})
	}
}

// secretVariables are the variables whose value may come from a file instead, each with a value
// that passes its checks and the Config field the value must reach.
func secretVariables() []struct {
	key, value string
	field      func(Config) string
} {
	return []struct {
		key, value string
		field      func(Config) string
	}{
		{"SLACK_BOT_TOKEN", "xoxb-from-a-file", func(c Config) string { return c.Slack.BotToken }},
		{"SLACK_APP_TOKEN", "xapp-from-a-file", func(c Config) string { return c.Slack.AppToken }},
		{"SLACK_ADMIN_TOKEN", "xoxp-from-a-file", func(c Config) string { return c.Slack.AdminToken }},
		{"OKTA_API_TOKEN", "00okta-from-a-file", func(c Config) string { return c.Okta.APIToken }},
		{"ZOOM_CLIENT_SECRET", "zoom-from-a-file", func(c Config) string { return c.Zoom.ClientSecret }},
		{"AZURE_CLIENT_SECRET", "azure-from-a-file", func(c Config) string { return c.Microsoft.ClientSecret }},
		{"RESETBOT_OKTA_HOOK_SECRET", "0123456789abcdef-from-a-file", func(c Config) string { return c.OktaHook.Secret }},
		{"RESETBOT_DATABASE_URL", "postgres://resetbot:from-a-file@db.internal/resetbot", func(c Config) string { return c.DatabaseURL }},
	}
}

// completeEnv configures every system, the hook and the policy, so a test that changes one
// secret sees its own problems only.
func completeEnv() map[string]string {
	return map[string]string{
		"SLACK_BOT_TOKEN": "xoxb-env", "SLACK_APP_TOKEN": "xapp-env", "SLACK_ADMIN_TOKEN": "xoxp-env",
		"OKTA_ORG_URL": "https://x.okta.com", "OKTA_API_TOKEN": "00env",
		"ZOOM_ACCOUNT_ID": "a", "ZOOM_CLIENT_ID": "c", "ZOOM_CLIENT_SECRET": "zoom-env",
		"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "azure-env",
		"RESETBOT_OKTA_HOOK_SECRET": "0123456789abcdef-env", "RESETBOT_ALERT_CHANNEL": "C0ALERTS", "RESETBOT_HTTP_ADDR": ":8080",
		"RESETBOT_DATABASE_URL": "postgres://env", "RESETBOT_REQUESTER_GROUPS": "Security Responders",
	}
}

// fromFile writes content to a file and points key_FILE at it in place of key.
func fromFile(t *testing.T, env map[string]string, key, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), key)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	delete(env, key)
	env[key+"_FILE"] = path
	return path
}

func TestSecretsAreReadFromTheFilesTheirFileVariablesName(t *testing.T) {
	t.Parallel()
	contents := []struct {
		name string
		file func(value string) string
	}{
		{"a trailing newline is trimmed", func(v string) string { return v + "\n" }},
		{"surrounding blanks are trimmed", func(v string) string { return " \t" + v + "\r\n\n" }},
		{"a file of exactly 64 KiB is read", func(v string) string { return v + strings.Repeat(" ", 64<<10-len(v)) }},
	}
	for _, s := range secretVariables() {
		for _, tc := range contents {
			t.Run(s.key+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				env := completeEnv()
				fromFile(t, env, s.key, tc.file(s.value))
				c, err := LoadFor(envOf(env), Need{Slack: true, Policy: true})
				if err != nil {
					t.Fatalf("LoadFor: %v", err)
				}
				if got := s.field(c); got != s.value {
					t.Errorf("%s_FILE gave %q; want %q", s.key, got, s.value)
				}
			})
		}
	}
}

func TestSecretFileProblemsNameTheFileNeverTheSecret(t *testing.T) {
	t.Parallel()
	const inFile, inEnv = "do-not-echo-the-file", "do-not-echo-the-env"
	problems := []struct {
		name string
		// file sets key's file up and returns the path key_FILE names.
		file func(t *testing.T, env map[string]string, key string) string
		want func(key, path string) string
	}{
		{name: "both the variable and its file",
			file: func(t *testing.T, env map[string]string, key string) string {
				path := fromFile(t, env, key, inFile)
				env[key] = inEnv
				return path
			},
			want: func(key, _ string) string {
				return key + " and " + key + "_FILE are both set: set only one, the value or the path of a file holding it"
			}},
		{name: "a file that does not exist",
			file: func(t *testing.T, env map[string]string, key string) string {
				path := fromFile(t, env, key, inFile) + ".absent"
				env[key+"_FILE"] = path
				return path
			},
			want: func(key, path string) string {
				return key + "_FILE: cannot read " + path + ": no such file or directory"
			}},
		{name: "a directory",
			file: func(t *testing.T, env map[string]string, key string) string {
				path := filepath.Dir(fromFile(t, env, key, inFile))
				env[key+"_FILE"] = path
				return path
			},
			want: func(key, path string) string { return key + "_FILE: cannot read " + path + ": is a directory" }},
		{name: "an empty file",
			file: func(t *testing.T, env map[string]string, key string) string { return fromFile(t, env, key, " \n\n") },
			want: func(key, path string) string { return key + "_FILE: " + path + " is empty: write the secret into it" }},
		{name: "a file over 64 KiB",
			file: func(t *testing.T, env map[string]string, key string) string {
				return fromFile(t, env, key, strings.Repeat(inFile+"\n", 64<<10/len(inFile)))
			},
			want: func(key, path string) string {
				return key + "_FILE: " + path + " is larger than 64 KiB: it should hold the secret alone"
			}},
	}
	for _, s := range secretVariables() {
		for _, p := range problems {
			t.Run(s.key+"/"+p.name, func(t *testing.T) {
				t.Parallel()
				env := completeEnv()
				path := p.file(t, env, s.key)
				_, err := LoadFor(envOf(env), Need{Slack: true, Policy: true})
				// The whole error: one problem, not also "not set" or "half configured".
				if want := "configuration: " + p.want(s.key, path); err == nil || err.Error() != want {
					t.Errorf("LoadFor error:\n got %v\nwant %s", err, want)
				}
				if err != nil && (strings.Contains(err.Error(), inFile) || strings.Contains(err.Error(), inEnv)) {
					t.Errorf("error leaks the secret: %v", err)
				}
			})
		}
	}
}

func TestSecretsFromFilesMeetTheSameChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, key, value, wantErr string
	}{
		{"a user token is not a bot token", "SLACK_BOT_TOKEN", "xoxp-user-token", "SLACK_BOT_TOKEN does not start with xoxb-"},
		{"a bot token is not an app-level token", "SLACK_APP_TOKEN", "xoxb-bot-token", "SLACK_APP_TOKEN does not start with xapp-"},
		{"a short hook secret", "RESETBOT_OKTA_HOOK_SECRET", "hunter2", "RESETBOT_OKTA_HOOK_SECRET is too short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := completeEnv()
			fromFile(t, env, tt.key, tt.value+"\n")
			_, err := LoadFor(envOf(env), Need{Slack: true, Policy: true})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("LoadFor error %v does not say %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), tt.value) {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
}
