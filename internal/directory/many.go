package directory

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/okta/okta-sdk-golang/v2/okta"
	"github.com/okta/okta-sdk-golang/v2/okta/query"

	"github.com/resetbot/resetbot/internal/reset"
)

// maxQuery bounds one filter= or search= expression as it is sent, URL-encoded, in bytes.
// Okta documents no limit on a request's URL that we could find (its user query guide
// describes the syntax, the or operator and pages of at most 200 users, nothing of length), and
// the fronts of HTTP services commonly refuse request lines beyond 4 or 8 KB. 2,000 bytes is
// the long-standing safe bound for a URL: with the path, limit=200 and an after= cursor the
// whole request stays under 2,100 bytes. A page then holds about 30 logins of 30 characters
// (40 of the 20-character ones in the benchmarks): a batch costs one read per 30 to 40 people.
const maxQuery = 2000

// userPage is the most users Okta returns in one page of GET /api/v1/users.
const userPage = 200

// userIDRE is the shape of an Okta user id.
var userIDRE = regexp.MustCompile(`^00u[0-9A-Za-z]{17}$`)

// FindMany finds the people named, each as Find takes them (an Okta user id, a login or an
// email), with as few Okta requests as it can: one filter= per page of names instead of a
// read per person. found maps each name found, as given, to its person; missing maps each
// name not found to why, an error matching ErrNotFound (nobody answers to it, or no Okta
// user can have that name) or ErrAmbiguous (it is the email of several users and the login of
// none). err is set only when Okta could not be asked; names not yet settled then have no
// answer. Every request is paced like the directory's others.
//
// Names resolve as Find resolves them, in passes over the names still unsettled, each pass
// sent in pages of at most maxQuery bytes of expression:
//
//  1. names shaped like an Okta id: filter=id eq "…" or id eq "…";
//  2. the rest as logins: filter=profile.login eq "…" or …: a login names one user;
//  3. what is left that looks like an email: filter=profile.email eq "…" or …, which must
//     match exactly one user;
//  4. what is left, ignoring case: filter= compares exactly (Okta's docs: "the filter query
//     parameter is case-sensitive"), so a name typed Alice@Example.com is looked for again
//     with search=profile.login eq "…" or profile.email eq "…", which ignores case, and the
//     users it finds are read again by id with filter= (search= answers from a copy that can
//     lag behind a change, and decisions rest on status), kept only if they still match.
//
// In the usual batch, everyone's login is the address typed, and pass 2 finds everyone: N
// names cost ceil(N/k) requests, k being how many fit in a page.
func (d *Directory) FindMany(ctx context.Context, names []string) (found map[string]reset.Target, missing map[string]error, err error) {
	found, missing = map[string]reset.Target{}, map[string]error{}
	err = d.FindEach(ctx, names, func(name string, t reset.Target, err error) {
		if err != nil {
			missing[name] = err
			return
		}
		found[name] = t
	})
	return found, missing, err
}

// FindEach is FindMany telling each name's answer as soon as it is known, so a batch can start
// on the first page's people while later pages are read. each is called once for every
// distinct name given, one call at a time, with the person found or why not (as FindMany's
// missing); when FindEach returns an error, the names not yet told are not told.
func (d *Directory) FindEach(ctx context.Context, names []string, each func(name string, t reset.Target, err error)) error {
	// Several names as given can be one name once trimmed (a key): each is told.
	given := map[string][]string{}
	refused := map[string]bool{}
	var keys []string
	for _, name := range names {
		key, err := checkName(name)
		switch {
		case err != nil:
			if !refused[name] {
				refused[name] = true
				each(name, reset.Target{}, err)
			}
			continue
		case given[key] == nil:
			keys = append(keys, key)
		}
		if !slices.Contains(given[key], name) {
			given[key] = append(given[key], name)
		}
	}
	tell := func(key string, t reset.Target, err error) {
		for _, name := range given[key] {
			each(name, t, err)
		}
	}

	var ids, left []string
	for _, k := range keys {
		if userIDRE.MatchString(k) {
			ids = append(ids, k)
		} else {
			left = append(left, k)
		}
	}
	// 1. Ids; an id-shaped name no user has is looked for as a login too, as Find does.
	notIDs, err := d.exactPass(ctx, "find okta users by id", ids, "id", tell, func(u *okta.User, key string) bool { return u.Id == key })
	if err != nil {
		return err
	}
	left = append(notIDs, left...)
	// 2. Logins.
	if left, err = d.exactPass(ctx, "find okta users by login", left, "profile.login", tell, byLogin); err != nil {
		return err
	}
	// 3. Emails, exactly as typed.
	var emails, rest []string
	for _, k := range left {
		if looksLikeEmail(k) {
			emails = append(emails, k)
		} else {
			rest = append(rest, k)
		}
	}
	if emails, err = d.emailPass(ctx, emails, tell); err != nil {
		return err
	}
	// 4. Everything left, ignoring case.
	left = append(rest, emails...)
	if left, err = d.casePass(ctx, left, tell); err != nil {
		return err
	}
	for _, k := range left {
		tell(k, reset.Target{}, fmt.Errorf("find okta user %s: %w", quote(k), ErrNotFound))
	}
	return nil
}

// FindAhead starts FindEach on names in the background and returns a Finder that answers for
// them from what it finds: a name is answered as soon as its page is back, without a request
// of its own, so a batch's first people are signed out while later pages are still read. If
// Okta cannot be asked, every name not yet answered gets that error. A name that is not among
// names is looked up on its own with Find. The search stops when ctx ends.
func (d *Directory) FindAhead(ctx context.Context, names []string) reset.Finder {
	a := &ahead{ready: map[string]chan struct{}{}, answers: map[string]answer{}}
	for _, n := range names {
		if _, ok := a.ready[n]; !ok {
			a.ready[n] = make(chan struct{})
		}
	}
	go func() {
		err := d.FindEach(ctx, names, func(name string, t reset.Target, err error) { a.tell(name, answer{t, err}) })
		if err == nil {
			err = fmt.Errorf("find okta users: no answer for this name")
		}
		for n := range a.ready {
			a.tell(n, answer{err: err})
		}
	}()
	return func(ctx context.Context, who string) (reset.Target, error) {
		ready, ok := a.ready[who]
		if !ok {
			return d.Find(ctx, who)
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return reset.Target{}, fmt.Errorf("find okta user %s: %w", quote(who), context.Cause(ctx))
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		got := a.answers[who]
		return got.t, got.err
	}
}

// ahead holds what FindAhead's search has told: answers[name] is set, and ready[name] closed,
// once, when the name is settled.
type ahead struct {
	ready   map[string]chan struct{} // fixed once FindAhead returns
	mu      sync.Mutex
	answers map[string]answer
}

type answer struct {
	t   reset.Target
	err error
}

// tell settles name, unless it already is.
func (a *ahead) tell(name string, got answer) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, done := a.answers[name]; done {
		return
	}
	a.answers[name] = got
	close(a.ready[name])
}

// exactPass looks keys up with filter=attr eq "…" or …, page by page, and tells every key one
// user matches (by is how a user answers to a key). It returns the keys nobody matched.
func (d *Directory) exactPass(ctx context.Context, what string, keys []string, attr string, tell func(string, reset.Target, error),
	by func(*okta.User, string) bool) ([]string, error) {
	var left []string
	for _, page := range pages(keys, func(k string) string { return attr + ` eq "` + escape(k) + `"` }) {
		users, err := d.listUsers(ctx, what, page, query.WithFilter)
		if err != nil {
			return nil, err
		}
		for _, k := range page.keys {
			if u := first(users, k, by); u != nil {
				tell(k, d.target(u), nil)
			} else {
				left = append(left, k)
			}
		}
	}
	return left, nil
}

// emailPass looks keys up as profile.email with filter=, page by page: one user is the
// person, several are ErrAmbiguous. It returns the keys nobody matched.
func (d *Directory) emailPass(ctx context.Context, keys []string, tell func(string, reset.Target, error)) ([]string, error) {
	var left []string
	for _, page := range pages(keys, func(k string) string { return `profile.email eq "` + escape(k) + `"` }) {
		users, err := d.listUsers(ctx, "find okta users by email", page, query.WithFilter)
		if err != nil {
			return nil, err
		}
		for _, k := range page.keys {
			switch m := matching(users, k, byEmail); len(m) {
			case 0:
				left = append(left, k)
			case 1:
				tell(k, d.target(m[0]), nil)
			default:
				tell(k, reset.Target{}, ambiguous(k, m))
			}
		}
	}
	return left, nil
}

// casePass looks keys up ignoring case (search=), as login and, for an address, as email; a
// login match wins, then one email match; several email matches are ErrAmbiguous. The users
// it finds are read again by id (filter=, current data) and kept only if they still answer to
// the key. It returns the keys nobody matched.
func (d *Directory) casePass(ctx context.Context, keys []string, tell func(string, reset.Target, error)) ([]string, error) {
	var left []string
	candidate := map[string]string{} // key → user id
	for _, page := range pages(keys, func(k string) string {
		expr := `profile.login eq "` + escape(k) + `"`
		if looksLikeEmail(k) {
			expr += ` or profile.email eq "` + escape(k) + `"`
		}
		return expr
	}) {
		users, err := d.listUsers(ctx, "find okta users ignoring case", page, query.WithSearch)
		if err != nil {
			return nil, err
		}
		for _, k := range page.keys {
			if u := first(users, k, byLogin); u != nil {
				candidate[k] = u.Id
				continue
			}
			switch m := matching(users, k, byEmail); len(m) {
			case 0:
				left = append(left, k)
			case 1:
				candidate[k] = m[0].Id
			default:
				tell(k, reset.Target{}, ambiguous(k, m))
			}
		}
	}
	if len(candidate) == 0 {
		return left, nil
	}
	var ids []string
	for _, k := range keys {
		if id, ok := candidate[k]; ok && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	current := map[string]*okta.User{}
	for _, page := range pages(ids, func(id string) string { return `id eq "` + escape(id) + `"` }) {
		users, err := d.listUsers(ctx, "read okta users found ignoring case", page, query.WithFilter)
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			current[u.Id] = u
		}
	}
	for _, k := range keys {
		id, ok := candidate[k]
		if !ok {
			continue
		}
		if u := current[id]; u != nil && (byLogin(u, k) || byEmail(u, k)) {
			tell(k, d.target(u), nil)
		} else {
			left = append(left, k)
		}
	}
	return left, nil
}

// page is a run of keys whose expressions, joined by or, make one filter= or search=.
type page struct {
	keys []string
	expr string
}

// pages packs keys, in order, into expressions of at most maxQuery bytes once URL-encoded; a
// key whose own expression is longer goes alone.
func pages(keys []string, clause func(string) string) []page {
	var out []page
	var cur page
	size := 0
	for _, k := range keys {
		c := clause(k)
		n := len(url.QueryEscape(c))
		if len(cur.keys) > 0 && size+len("+or+")+n > maxQuery {
			out = append(out, cur)
			cur, size = page{}, 0
		}
		if len(cur.keys) > 0 {
			cur.expr += " or "
			size += len("+or+")
		}
		cur.keys = append(cur.keys, k)
		cur.expr += c
		size += n
	}
	if len(cur.keys) > 0 {
		out = append(out, cur)
	}
	return out
}

// listUsers lists every user p's expression matches, as filter= or search= (as says which),
// following Okta's pages to the end.
func (d *Directory) listUsers(ctx context.Context, what string, p page, as func(string) query.ParamOptions) ([]*okta.User, error) {
	what = fmt.Sprintf("%s (%d names)", what, len(p.keys))
	var users []*okta.User
	err := allPages(ctx, d, what, func() ([]*okta.User, *okta.Response, error) {
		return d.users.ListUsers(ctx, query.NewQueryParams(as(p.expr), query.WithLimit(userPage)))
	}, func(u *okta.User) bool {
		users = append(users, u)
		return true
	})
	if errors.Is(err, ErrNotFound) {
		// A 404 to a list says nothing of anyone in it: it is a failure, not "nobody".
		return nil, reset.PermanentError(http.StatusNotFound, fmt.Errorf("%v (okta answered a list of users with not found)", err))
	}
	return users, err
}

func byLogin(u *okta.User, key string) bool { return strings.EqualFold(base(u).Login, key) }
func byEmail(u *okta.User, key string) bool { return strings.EqualFold(base(u).Email, key) }

// first is the first of users answering to key.
func first(users []*okta.User, key string, by func(*okta.User, string) bool) *okta.User {
	for _, u := range users {
		if by(u, key) {
			return u
		}
	}
	return nil
}

// matching lists the users answering to key, each once.
func matching(users []*okta.User, key string, by func(*okta.User, string) bool) []*okta.User {
	var out []*okta.User
	for _, u := range users {
		if by(u, key) && !slices.ContainsFunc(out, func(o *okta.User) bool { return o.Id == u.Id }) {
			out = append(out, u)
		}
	}
	return out
}

// ambiguous is the error for an email several users share, as FindByEmail words it.
func ambiguous(key string, users []*okta.User) error {
	logins := make([]string, 0, len(users))
	for _, u := range users {
		logins = append(logins, base(u).Login)
	}
	return fmt.Errorf("find okta user with email %s: %w (%s): name the login or Okta id instead", quote(key), ErrAmbiguous, strings.Join(logins, ", "))
}
