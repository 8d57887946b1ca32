package directory

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/okta/okta-sdk-golang/v2/okta"

	"github.com/resetbot/resetbot/internal/oktaclient"
	"github.com/resetbot/resetbot/internal/reset"
)

// ErrSchemaRefused is matched by errors.Is when Okta will not show its user schema to
// resetbot's credentials: a service app not granted okta.schemas.read, or an admin role that
// may not read the schema.
var ErrSchemaRefused = errors.New("okta refused to show its user schema")

// SelfReadWrite is the permission of an attribute people may edit in their own profile (User
// permission Read-Write in Okta's Profile Editor); READ_ONLY and HIDE are the others.
const SelfReadWrite = "READ_WRITE"

// Attribute is what Okta's user schema says of one profile attribute of the default user type.
type Attribute struct {
	// Name is the attribute's variable name, as asked.
	Name string
	// Exists is whether the schema has the attribute, as a base or a custom one.
	Exists bool
	// Custom is whether it is a custom attribute (definitions.custom).
	Custom bool
	// Self is what people may do with it in their own profile: the action of the schema's
	// permission for principal SELF (READ_WRITE, READ_ONLY or HIDE); empty when the schema
	// names none.
	Self string
	// Like is, for an attribute that does not exist, one that does under the same name in
	// another case (msupn for msUpn): Okta's names are case-sensitive, so it is likely what
	// was meant.
	Like string
}

// SelfEditable is whether people can change the attribute themselves, in their Okta settings.
func (a Attribute) SelfEditable() bool { return a.Self == SelfReadWrite }

// WithSchemaClient reads the user schema through c instead of the directory's client. A
// service app needs it: its token for the directory carries only the scopes resetbot needs,
// and asking for okta.schemas.read there would make Okta refuse every token of an app not
// granted that scope. c must be built by oktaclient.New with Scopes okta.schemas.read.
func WithSchemaClient(c *okta.Client) Option {
	return func(d *Directory) { d.schemas = c.UserSchema }
}

// Attributes reads the default user type's profile schema (one paced request) and says, for
// each name in the order given, whether the attribute exists and whether people may edit it
// themselves. Okta refusing to show the schema gives an error matching ErrSchemaRefused;
// other failures are classified as every directory call's.
func (d *Directory) Attributes(ctx context.Context, names ...string) ([]Attribute, error) {
	const what = "read okta's user schema"
	var schema *okta.UserSchema
	err := d.paced(ctx, what, classifySchema, func() (*okta.Response, error) {
		var (
			resp *okta.Response
			err  error
		)
		schema, resp, err = d.schemas.GetUserSchema(ctx, "default")
		return resp, err
	})
	if err != nil {
		return nil, err
	}
	if schema == nil || schema.Definitions == nil || schema.Definitions.Base == nil {
		return nil, reset.PermanentError(0, fmt.Errorf("%s: the answer holds no base attributes", what))
	}
	all := map[string]Attribute{}
	if c := schema.Definitions.Custom; c != nil {
		for name, a := range c.Properties {
			all[name] = attribute(name, a, true)
		}
	}
	for name, a := range schema.Definitions.Base.Properties {
		all[name] = attribute(name, a, false)
	}
	out := make([]Attribute, 0, len(names))
	for _, name := range names {
		a, ok := all[name]
		if !ok {
			a = Attribute{Name: name}
			for other := range all {
				if strings.EqualFold(other, name) && (a.Like == "" || other < a.Like) {
					a.Like = other
				}
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// attribute reads one schema property.
func attribute(name string, a *okta.UserSchemaAttribute, custom bool) Attribute {
	out := Attribute{Name: name, Exists: true, Custom: custom}
	if a == nil {
		return out
	}
	for _, p := range a.Permissions {
		if p != nil && p.Principal == "SELF" {
			out.Self = p.Action
		}
	}
	return out
}

// classifySchema reads a failed schema read as oktaclient does, and marks Okta's refusals
// with ErrSchemaRefused: a 403, or a service app's token request refused for its scope.
func classifySchema(what string, resp *okta.Response, err error) error {
	err = oktaclient.Classify(what, oktaclient.ScopeSchemasRead+" and an admin role that may read the user schema", resp, err)
	var (
		re *reset.Error
		ae *oktaclient.APIError
	)
	switch {
	case errors.As(err, &re) && re.Status == http.StatusForbidden,
		errors.As(err, &ae) && ae.TokenRequest && ae.Code == "invalid_scope":
		return &schemaRefused{err: err}
	}
	return err
}

// schemaRefused is a classified refusal that also matches ErrSchemaRefused.
type schemaRefused struct{ err error }

func (e *schemaRefused) Error() string        { return e.err.Error() }
func (e *schemaRefused) Unwrap() error        { return e.err }
func (e *schemaRefused) Is(target error) bool { return target == ErrSchemaRefused }
