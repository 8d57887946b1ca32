// Package directory uses Okta as resetbot's directory: it turns what a responder typed (an
// email, an Okta login or an Okta user id) into the person to reset, and lists a person's
// groups, which decide who may request and approve. Every answer is read live from Okta: the
// client must come from oktaclient, whose SDK cache is off, so someone just removed from a
// group loses their say at once.
//
// Okta counts the directory's calls against the org's limits, so given a Limiter the
// directory paces every call it makes, as provider Provider.
package directory

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/okta/okta-sdk-golang/v2/okta"
	"github.com/okta/okta-sdk-golang/v2/okta/query"

	"github.com/resetbot/resetbot/internal/oktaclient"
	"github.com/resetbot/resetbot/internal/reset"
)

// ErrNotFound is matched by errors.Is when no Okta user answers to the name given.
var ErrNotFound = errors.New("no such user in Okta")

// ErrAmbiguous is matched by errors.Is when several Okta users share the email given.
var ErrAmbiguous = errors.New("several Okta users match")

// maxName bounds what is sent to Okta: logins are at most 100 characters and emails 254, so a
// longer name cannot match anyone.
const maxName = 320

// maxGroupPages bounds group pagination, so a server whose next link never ends cannot hold
// a request forever (200 groups a page: 200 000 groups).
const maxGroupPages = 1000

// Provider is the name the directory's calls are paced under. Okta counts reads in other
// buckets than signing people out, so they get a queue of their own beside the Okta
// provider's ("okta"), each following its own bucket's window.
const Provider = "okta-directory"

// maxRateLimited bounds how often one call is asked again after Okta answered 429.
const maxRateLimited = 3

// Directory finds people and their groups in one Okta org. It is safe for concurrent use.
type Directory struct {
	users   *okta.UserResource
	groups  *okta.GroupResource
	schemas *okta.UserSchemaResource
	limiter Limiter
	// idAttrs maps a system to the Okta profile attribute holding the person's name there.
	idAttrs map[string]string
}

// Limiter paces the directory's Okta calls (package pace implements it). Admit is called
// before every call, under the call's context, and returns an error only when ctx ends first;
// otherwise the done it returns is called exactly once with the call's classified error, a
// 429 included, so the limiter can pause the queue for as long as Okta asked. A limiter that
// bounds calls in flight frees the call's place at done or when ctx ends, whichever is first:
// the SDK sends a service app's token request without ctx, so a call can outlive its deadline.
type Limiter interface {
	Admit(ctx context.Context, provider string) (done func(error), err error)
}

// Option configures a Directory.
type Option func(*Directory)

// WithLimiter sends every Okta call through l under Provider. A call Okta answers with
// 429 is then asked again once l lets it through (up to three times in all), since the limiter
// has paused the queue for as long as Okta asked: a responder waits instead of failing.
func WithLimiter(l Limiter) Option { return func(d *Directory) { d.limiter = l } }

// WithIDAttributes reads, for each system, the Okta profile attribute that holds a person's
// identifier there (RESETBOT_<SYSTEM>_ID_ATTRIBUTE) into Target.Names.
func WithIDAttributes(attrs map[string]string) Option {
	return func(d *Directory) { d.idAttrs = maps.Clone(attrs) }
}

// New uses c, which must be built by oktaclient.New (cache off, no SDK retries).
func New(c *okta.Client, opts ...Option) *Directory {
	d := &Directory{users: c.User, groups: c.Group, schemas: c.UserSchema}
	for _, o := range opts {
		o(d)
	}
	return d
}

// Find resolves who: an Okta user id (00u…), an Okta login, or an email. It reads the user by
// id or login first; an email that is nobody's login is then looked for as profile.email,
// which must match exactly one user. Unknown people give an error matching ErrNotFound;
// several matches give one matching ErrAmbiguous; Okta failures are classified like the
// provider's (reset.Classify tells "Okta is down" from "refused").
func (d *Directory) Find(ctx context.Context, who string) (reset.Target, error) {
	who, err := checkName(who)
	if err != nil {
		return reset.Target{}, err
	}
	t, err := d.get(ctx, who)
	if err == nil || !errors.Is(err, ErrNotFound) || !looksLikeEmail(who) {
		return t, err
	}
	return d.searchEmail(ctx, who)
}

// FindByEmail resolves the person a Slack user is, by the email Slack knows them by: the one
// Okta user whose profile.email it is, else the user whose login it is. The status it returns
// is current (filter= and reads by id are), since decisions rest on it.
func (d *Directory) FindByEmail(ctx context.Context, email string) (reset.Target, error) {
	email, err := checkName(email)
	if err != nil {
		return reset.Target{}, err
	}
	if !looksLikeEmail(email) {
		return reset.Target{}, fmt.Errorf("find okta user by email %s: not an email address: %w", quote(email), ErrNotFound)
	}
	t, err := d.searchEmail(ctx, email)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return t, err
	}
	return d.get(ctx, email)
}

// Groups lists every group the user is in, with its id, name and type: rights go with the
// id, since an imported group can carry any name. It follows Okta's pagination to the end;
// nothing is cached.
func (d *Directory) Groups(ctx context.Context, oktaUserID string) ([]reset.Group, error) {
	id, err := checkName(oktaUserID)
	if err != nil {
		return nil, err
	}
	var groups []reset.Group
	err = allPages(ctx, d, "list okta groups of "+quote(id), func() ([]*okta.Group, *okta.Response, error) {
		return d.users.ListUserGroups(ctx, url.PathEscape(id))
	}, func(g *okta.Group) bool {
		groups = append(groups, group(g))
		return true
	})
	if err != nil {
		return nil, err
	}
	return groups, nil
}

// Me is the Okta user resetbot's API token belongs to, so `check` can tell whether resetbot's
// own admin is protected. A service app acts as no user: ok is false then.
func (d *Directory) Me(ctx context.Context) (t reset.Target, ok bool, err error) {
	t, err = d.get(ctx, "me")
	if errors.Is(err, ErrNotFound) {
		return reset.Target{}, false, nil
	}
	return t, err == nil, err
}

// allPages makes the first request, then follows Okta's next links, calling each for every
// item until it returns false or the pages end; every page is one paced call.
func allPages[T any](ctx context.Context, d *Directory, what string, first func() ([]*T, *okta.Response, error), each func(*T) bool) error {
	var (
		items []*T
		resp  *okta.Response
	)
	err := d.call(ctx, what, func() (*okta.Response, error) {
		var err error
		items, resp, err = first()
		return resp, err
	})
	for page := 1; ; page++ {
		if err != nil {
			return err
		}
		for _, it := range items {
			if it != nil && !each(it) {
				return nil
			}
		}
		if resp == nil || !resp.HasNextPage() {
			return nil
		}
		if page >= maxGroupPages {
			return reset.PermanentError(0, fmt.Errorf("%s: Okta kept paginating past %d pages", what, maxGroupPages))
		}
		prev := resp
		err = d.call(ctx, what, func() (*okta.Response, error) {
			items = nil
			var err error
			resp, err = prev.Next(ctx, &items)
			return resp, err
		})
	}
}

// get reads a user by id or login.
func (d *Directory) get(ctx context.Context, key string) (reset.Target, error) {
	var u *okta.User
	err := d.call(ctx, "find okta user "+quote(key), func() (*okta.Response, error) {
		var (
			resp *okta.Response
			err  error
		)
		u, resp, err = d.users.GetUser(ctx, url.PathEscape(key))
		return resp, err
	})
	if err != nil {
		return reset.Target{}, err
	}
	return d.target(u), nil
}

// searchEmail finds the one user whose profile.email is email. It asks filter= first, which
// reads current data but compares case-sensitively, then search=, which ignores case but is
// answered from a replicated store that can lag behind a change.
func (d *Directory) searchEmail(ctx context.Context, email string) (reset.Target, error) {
	expr := `profile.email eq "` + escape(email) + `"`
	t, err := d.listOne(ctx, email, query.WithFilter(expr))
	if !errors.Is(err, ErrNotFound) {
		return t, err
	}
	if t, err = d.listOne(ctx, email, query.WithSearch(expr)); err != nil {
		return t, err
	}
	// search= may answer from before a change: the status decisions rest on is read by id.
	return d.get(ctx, t.OktaID)
}

// listOne lists the users matching expr and expects exactly one.
func (d *Directory) listOne(ctx context.Context, email string, expr query.ParamOptions) (reset.Target, error) {
	what := "find okta user with email " + quote(email)
	var (
		users []*okta.User
		resp  *okta.Response
	)
	err := d.call(ctx, what, func() (*okta.Response, error) {
		var err error
		users, resp, err = d.users.ListUsers(ctx, query.NewQueryParams(
			expr,
			query.WithLimit(2), // two are enough to know it is not one
		))
		return resp, err
	})
	if err != nil {
		return reset.Target{}, err
	}
	switch len(users) {
	case 0:
		return reset.Target{}, fmt.Errorf("%s: %w", what, ErrNotFound)
	case 1:
		return d.target(users[0]), nil
	default:
		logins := make([]string, 0, len(users))
		for _, u := range users {
			logins = append(logins, base(u).Login)
		}
		return reset.Target{}, fmt.Errorf("%s: %w (%s%s): name the login or Okta id instead", what, ErrAmbiguous,
			strings.Join(logins, ", "), moreSuffix(resp))
	}
}

// moreSuffix says when Okta holds more matches than were fetched.
func moreSuffix(resp *okta.Response) string {
	if resp != nil && resp.HasNextPage() {
		return ", …"
	}
	return ""
}

// call makes one Okta request, paced by the limiter when there is one, and returns its error
// classified. With a limiter, a 429 is asked again once the limiter has waited it out.
func (d *Directory) call(ctx context.Context, what string, request func() (*okta.Response, error)) error {
	return d.paced(ctx, what, classify, request)
}

// paced is call with the classification of the caller's choice.
func (d *Directory) paced(ctx context.Context, what string, classify func(string, *okta.Response, error) error, request func() (*okta.Response, error)) error {
	if d.limiter == nil {
		resp, err := request()
		return classify(what, resp, err)
	}
	for n := 1; ; n++ {
		done, err := d.limiter.Admit(ctx, Provider)
		if err != nil {
			return fmt.Errorf("%s: waiting for Okta's rate limit: %w", what, err)
		}
		resp, err := request()
		err = classify(what, resp, err)
		done(err)
		if _, _, reason := reset.Classify(err); err == nil || reason != "rate_limited" || n >= maxRateLimited {
			return err
		}
	}
}

// classify reads an Okta failure as oktaclient does for the provider, and marks "no such
// user" with ErrNotFound so callers need not know reset's vocabulary.
func classify(what string, resp *okta.Response, err error) error {
	err = oktaclient.Classify(what, oktaclient.ScopeUsersRead+" and "+oktaclient.ScopeGroupsRead, resp, err)
	if errors.Is(err, reset.ErrNoAccount) {
		return &notFound{err: err}
	}
	return err
}

// notFound is a classified "no such user" that also matches ErrNotFound.
type notFound struct{ err error }

func (e *notFound) Error() string        { return e.err.Error() }
func (e *notFound) Unwrap() error        { return e.err }
func (e *notFound) Is(target error) bool { return target == ErrNotFound }

// target maps an Okta user to the domain's Target, with the names the person goes by in other
// systems as their profile holds them.
func (d *Directory) target(u *okta.User) reset.Target {
	t := base(u)
	if u.Profile == nil {
		return t
	}
	for system, attr := range d.idAttrs {
		if name := strings.TrimSpace(str((*u.Profile)[attr])); name != "" {
			if t.Names == nil {
				t.Names = make(map[string]string, len(d.idAttrs))
			}
			t.Names[system] = name
		}
	}
	return t
}

// base maps what every Okta profile has: id, status, login, emails and name.
func base(u *okta.User) reset.Target {
	t := reset.Target{OktaID: u.Id, Status: u.Status}
	if u.Profile == nil {
		return t
	}
	p := *u.Profile
	t.Login, t.Email, t.SecondEmail = str(p["login"]), str(p["email"]), str(p["secondEmail"])
	t.DisplayName = strings.TrimSpace(str(p["firstName"]) + " " + str(p["lastName"]))
	if t.DisplayName == "" {
		t.DisplayName = str(p["displayName"])
	}
	return t
}

// group maps an Okta group to the policy's Group.
func group(g *okta.Group) reset.Group {
	out := reset.Group{ID: g.Id, Type: g.Type}
	if g.Profile != nil {
		out.Name = g.Profile.Name
	}
	return out
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// checkName refuses what no Okta user can be named before anything is sent: empty names,
// control characters, invalid UTF-8, path tricks and names longer than any login or email.
func checkName(who string) (string, error) {
	who = strings.TrimSpace(who)
	switch {
	case who == "":
		return "", fmt.Errorf("find okta user: no email, login or Okta id given: %w", ErrNotFound)
	case len(who) > maxName:
		return "", fmt.Errorf("find okta user: a %d-byte name is longer than any Okta login or email: %w", len(who), ErrNotFound)
	case !utf8.ValidString(who):
		return "", fmt.Errorf("find okta user: the name is not valid UTF-8: %w", ErrNotFound)
	case who == "." || who == "..":
		return "", fmt.Errorf("find okta user %q: %w", who, ErrNotFound)
	case strings.ContainsFunc(who, unicode.IsControl):
		return "", fmt.Errorf("find okta user %s: the name holds control characters: %w", quote(who), ErrNotFound)
	}
	return who, nil
}

// looksLikeEmail is true for something@something: worth searching profile.email for.
func looksLikeEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && domain != "" && !strings.Contains(domain, "@")
}

// escape makes s safe inside a double-quoted string of an Okta filter expression, whose
// escapes are a backslash before a quote or a backslash. Control characters never get here
// (checkName refuses them).
func escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// quote shows user input in an error, shortened so a pasted page cannot flood a message.
func quote(s string) string {
	const limit = 80
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return fmt.Sprintf("%q", s)
}
