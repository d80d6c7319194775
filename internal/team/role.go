package team

import "spectra/internal/errs"

// Role is what a member may do in a workspace.
type Role string

// Roles, from the most to the least powerful.
const (
	RoleOwner   Role = "owner"   // everything, including making and unmaking owners
	RoleAdmin   Role = "admin"   // everything except changing owners
	RoleBilling Role = "billing" // reads usage; sees and acts on billing
	RoleMember  Role = "member"  // reads usage and billing; manages their own keys
	RoleViewer  Role = "viewer"  // reads usage and billing
)

// Roles lists every role, most powerful first (for pickers and tables).
var Roles = []Role{RoleOwner, RoleAdmin, RoleBilling, RoleMember, RoleViewer}

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool {
	switch r {
	case RoleOwner, RoleAdmin, RoleBilling, RoleMember, RoleViewer:
		return true
	}
	return false
}

// Action is something a role may be allowed to do in a workspace.
type Action string

// Actions.
const (
	ActViewUsage      Action = "view_usage"      // usage, requests, keys and members lists
	ActManageOwnKeys  Action = "manage_own_keys" // create and revoke keys whose MemberID is oneself
	ActUseKeys        Action = "use_keys"        // hold an inference key and use it (the gateway, sending events)
	ActManageKeys     Action = "manage_keys"     // create and revoke any key of the workspace
	ActManageMembers  Action = "manage_members"  // add, remove and change the role of members (owners: see ActManageOwners)
	ActViewBilling    Action = "view_billing"    // the balance, the ledger's transactions, invoices
	ActManageBilling  Action = "manage_billing"  // recharge, auto-recharge, billing details
	ActManageOwners   Action = "manage_owners"   // make a member an owner, or change or remove an owner
	ActManageBudgets  Action = "manage_budgets"  // create and delete budgets, set the low-balance line
	ActManageWebhooks Action = "manage_webhooks" // add, change, delete, rotate and test webhook endpoints (their URLs and secrets)
	// ActManageWorkspace changes the workspace's own settings (its time zone), which
	// redate every day, budget period and statement month: owners only.
	ActManageWorkspace Action = "manage_workspace"
)

// Needs of routes that no role governs, so that every route table says who may call
// each route in this one vocabulary. No role has them: a route's guard handles them.
const (
	ActPublic  Action = "public"  // anyone, with no credential read (health, metrics, a signed webhook)
	ActOperate Action = "operate" // only the deployment's operator (its admin token, or the dashboard's operator)
)

// Every role reads usage and billing: the balance, its runway and the Invoices entry
// point are on every page, so hiding the Billing page from viewers would only hide
// detail. Acting on billing needs billing, admin or owner.
var permissions = map[Role]map[Action]bool{
	RoleViewer:  {ActViewUsage: true, ActViewBilling: true},
	RoleMember:  {ActViewUsage: true, ActViewBilling: true, ActManageOwnKeys: true, ActUseKeys: true},
	RoleBilling: {ActViewUsage: true, ActViewBilling: true, ActManageBilling: true, ActManageBudgets: true},
	RoleAdmin: {ActViewUsage: true, ActViewBilling: true, ActManageBilling: true, ActManageOwnKeys: true, ActUseKeys: true,
		ActManageKeys: true, ActManageMembers: true, ActManageBudgets: true, ActManageWebhooks: true},
	RoleOwner: {ActViewUsage: true, ActViewBilling: true, ActManageBilling: true, ActManageOwnKeys: true, ActUseKeys: true,
		ActManageKeys: true, ActManageMembers: true, ActManageOwners: true, ActManageBudgets: true, ActManageWebhooks: true,
		ActManageWorkspace: true},
}

// Can reports whether role r may do a. An unknown role may do nothing.
func (r Role) Can(a Action) bool { return permissions[r][a] }

// CanChangeMember reports whether a member with role r may change another member's role
// from `from` to `to`. from is "" when adding a member, to is "" when removing one. Only an
// owner may touch the owner role (grant it, take it away, or remove an owner); admins
// manage every other role. Whether the change leaves the workspace an owner is checked
// by Accounts (last_owner), not here.
func (r Role) CanChangeMember(from, to Role) bool {
	if !r.Can(ActManageMembers) {
		return false
	}
	if from == RoleOwner || to == RoleOwner {
		return r.Can(ActManageOwners)
	}
	return true
}

// CanManageKey reports whether member m may create or revoke key k: with manage_keys any
// key of m's workspace, with manage_own_keys only a key whose MemberID is m's user.
func CanManageKey(m Member, k APIKey) bool {
	if k.WorkspaceID != m.WorkspaceID {
		return false
	}
	return m.Role.Can(ActManageKeys) || (m.Role.Can(ActManageOwnKeys) && k.MemberID == m.UserID)
}

// ErrKeyRole is the code of a key refused because its member's current role does not
// allow what it was used for (see APIKey.RoleAllows).
const ErrKeyRole = "key_role_forbidden"

// RoleAllows says whether key k may be used for action a as far as its member's role
// goes: a key never does more than the current role of the member it belongs to allows
// (the member who made it, unless an admin made it for someone else). It reads
// k.MemberRole, which Service.Authenticate fills from the membership at the time of
// the request: a demoted member's keys lose what the new role lacks, and gain it back
// with the role. A key with no member (made by the operator, or whose member_id is a
// label naming no user) is bounded by its kind alone. The caller checks the kind.
// Errors: errs.Forbidden key_role_forbidden.
func (k APIKey) RoleAllows(a Action) error {
	if k.MemberRole == "" || k.MemberRole.Can(a) {
		return nil
	}
	return errs.E(errs.Forbidden, ErrKeyRole,
		"this key belongs to a member whose role (%s) does not allow this (%s)", k.MemberRole, a)
}
