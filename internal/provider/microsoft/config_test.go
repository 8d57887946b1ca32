package microsoft

import "testing"

// TestGraphScope: the token is always for a Graph resource; a host that is not a national
// cloud's Graph (a proxy, a gateway, the fake) keeps the global one.
func TestGraphScope(t *testing.T) {
	t.Parallel()
	tests := []struct{ host, want string }{
		{"graph.microsoft.com", "https://graph.microsoft.com/.default"},
		{"Graph.Microsoft.US", "https://graph.microsoft.us/.default"},
		{"dod-graph.microsoft.us", "https://dod-graph.microsoft.us/.default"},
		{"microsoftgraph.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn/.default"},
		{"graph-proxy.corp.example", "https://graph.microsoft.com/.default"},
		{"127.0.0.1", "https://graph.microsoft.com/.default"},
	}
	for _, tc := range tests {
		if got := graphScope(tc.host); got != tc.want {
			t.Errorf("graphScope(%q) = %q, want %q", tc.host, got, tc.want)
		}
	}
}

// TestWellKnownAuthority: instance discovery stays on only where MSAL can vouch for the host.
func TestWellKnownAuthority(t *testing.T) {
	t.Parallel()
	tests := []struct {
		host string
		want bool
	}{
		{"https://login.microsoftonline.com/", true},
		{"https://login.microsoftonline.us/", true},
		{"https://login.chinacloudapi.cn/", true},
		{"https://login.partner.microsoftonline.cn/", true},
		{"https://127.0.0.1:8443/", false},
		{"https://adfs.corp.example/", false},
	}
	for _, tc := range tests {
		if got := wellKnownAuthority(tc.host); got != tc.want {
			t.Errorf("wellKnownAuthority(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
}
