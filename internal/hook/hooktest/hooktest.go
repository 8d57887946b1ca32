// Package hooktest builds Okta event hook deliveries shaped as in Okta's documentation, for
// the hook's own tests and for end-to-end tests that post them to a running listener.
package hooktest

import (
	"fmt"
	"strings"
)

// Person is an Okta actor or target as a LogEvent names it.
type Person struct{ ID, Login, Name string }

// Event is one System Log event as Okta delivers it through an event hook.
func Event(uuid, eventType, message string, actor, target Person) string {
	return fmt.Sprintf(`{
        "uuid": %q,
        "published": "2024-05-02T14:21:07.511Z",
        "eventType": %q,
        "version": "0",
        "displayMessage": %q,
        "severity": "INFO",
        "client": {
          "userAgent": {"rawUserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)", "os": "Mac OS X", "browser": "CHROME"},
          "zone": "null", "device": "Computer", "id": null, "ipAddress": "198.51.100.7",
          "geographicalContext": {"city": "Springfield", "state": "Illinois", "country": "United States", "postalCode": "62701", "geolocation": {"lat": 39.78, "lon": -89.65}}
        },
        "device": null,
        "actor": {"id": %q, "type": "User", "alternateId": %q, "displayName": %q, "detailEntry": null},
        "outcome": {"result": "SUCCESS", "reason": null},
        "target": [{"id": %q, "type": "User", "alternateId": %q, "displayName": %q, "detailEntry": null}],
        "transaction": {"type": "WEB", "id": "ZjOiY8rD3l2mQ6Jb1t3wVQAAA7A", "detail": {}},
        "debugContext": {"debugData": {"requestId": "ZjOiY8rD3l2mQ6Jb1t3wVQAAA7A", "requestUri": "/api/v1/users/%s/lifecycle", "url": "/api/v1/users/%s/lifecycle?"}},
        "legacyEventType": "core.user.config.user_status.changed",
        "authenticationContext": {"authenticationProvider": null, "credentialProvider": null, "credentialType": null, "issuer": null, "interface": null, "authenticationStep": 0, "externalSessionId": "102nZ6vR2pQR2e0qxaKd7lJ2Q"},
        "securityContext": {"asNumber": null, "asOrg": null, "isp": null, "domain": null, "isProxy": null},
        "insertionTimestamp": null
      }`, uuid, eventType, message, actor.ID, actor.Login, actor.Name, target.ID, target.Login, target.Name, target.ID, target.ID)
}

// Delivery wraps events in the envelope of an event hook POST, as in Okta's documentation.
func Delivery(events ...string) string {
	return `{
  "eventType": "com.okta.event_hook",
  "eventTypeVersion": "1.0",
  "cloudEventsVersion": "0.1",
  "source": "https://example.okta.com/api/v1/eventHooks/whoql0HfiLGPWc8Jx0g3",
  "eventId": "b5a188b9-5ece-4636-b041-482ffda96311",
  "eventTime": "2024-05-02T14:21:08.032Z",
  "contentType": "application/json",
  "data": {"events": [` + strings.Join(events, ",") + `]}
}`
}
