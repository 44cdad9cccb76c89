package seed

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"daemonauth"
)

// DemoDaemon is one daemon of the demo, with the renewal outcome its
// token should produce.
type DemoDaemon struct {
	DaemonID string `json:"daemon_id"`
	Token    Token  `json:"token"`
	Profile  string `json:"profile,omitempty"`
	// Expected is the daemonauth.Outcome… value the start-up should report.
	Expected string `json:"expected"`
}

// Demo creates a demo user in two workspaces and three daemons: one whose
// token is inside the renewal window, one with a healthy token and one
// whose token was revoked.
func Demo(ctx context.Context, pool *pgxpool.Pool) ([]DemoDaemon, error) {
	userID, err := EnsureUser(ctx, pool, "Demo Operator", "operator@example.com")
	if err != nil {
		return nil, err
	}
	memberships := []struct{ name, slug, role string }{
		{"Acme Platform", "acme-platform", "owner"},
		{"Acme Research", "acme-research", "member"},
	}
	for _, m := range memberships {
		workspaceID, err := EnsureWorkspace(ctx, pool, m.name, m.slug)
		if err != nil {
			return nil, err
		}
		if err := AddMember(ctx, pool, workspaceID, userID, m.role); err != nil {
			return nil, err
		}
	}

	daemons := []struct {
		id       string
		profile  string
		spec     TokenSpec
		expected string
	}{
		{"laptop-due", "", TokenSpec{Name: "laptop-due daemon", ExpiresIn: Days(3)}, daemonauth.OutcomeRenewed},
		{"laptop-healthy", "", TokenSpec{Name: "laptop-healthy daemon", ExpiresIn: Days(60)}, daemonauth.OutcomeNotDue},
		{"laptop-revoked", "work", TokenSpec{Name: "laptop-revoked daemon", ExpiresIn: Days(30), Revoked: true}, daemonauth.OutcomeRejected},
	}
	result := make([]DemoDaemon, 0, len(daemons))
	for _, d := range daemons {
		d.spec.UserID = userID
		token, err := IssueToken(ctx, pool, d.spec)
		if err != nil {
			return nil, err
		}
		result = append(result, DemoDaemon{DaemonID: d.id, Token: token, Profile: d.profile, Expected: d.expected})
	}
	return result, nil
}
