package team

import "testing"

func TestRoleCan(t *testing.T) {
	actions := []Action{ActViewUsage, ActViewBilling, ActManageOwnKeys, ActManageKeys, ActManageMembers, ActManageBilling, ActManageOwners, ActManageBudgets,
		ActManageWebhooks, ActManageWorkspace, ActPublic, ActOperate}
	// One row per role, one column per action above.
	table := map[Role][]bool{
		RoleViewer:  {true, true, false, false, false, false, false, false, false, false, false, false},
		RoleMember:  {true, true, true, false, false, false, false, false, false, false, false, false},
		RoleBilling: {true, true, false, false, false, true, false, true, false, false, false, false},
		RoleAdmin:   {true, true, true, true, true, true, false, true, true, false, false, false},
		RoleOwner:   {true, true, true, true, true, true, true, true, true, true, false, false},
		Role(""):    {false, false, false, false, false, false, false, false, false, false, false, false},
		Role("god"): {false, false, false, false, false, false, false, false, false, false, false, false},
	}
	for role, want := range table {
		for i, a := range actions {
			if got := role.Can(a); got != want[i] {
				t.Errorf("%q.Can(%s) = %v, want %v", role, a, got, want[i])
			}
		}
		if role.Can(Action("fly")) {
			t.Errorf("%q may do an unknown action", role)
		}
	}
}

func TestRoleValid(t *testing.T) {
	for _, r := range Roles {
		if !r.Valid() {
			t.Errorf("%q is not valid", r)
		}
	}
	for _, r := range []Role{"", "Owner", "root", "owner "} {
		if r.Valid() {
			t.Errorf("%q is valid", r)
		}
	}
	if len(Roles) != 5 {
		t.Errorf("Roles has %d roles", len(Roles))
	}
}

func TestCanChangeMember(t *testing.T) {
	tests := []struct {
		actor, from, to Role
		want            bool
	}{
		{RoleOwner, RoleMember, RoleAdmin, true},
		{RoleOwner, RoleMember, RoleOwner, true},
		{RoleOwner, RoleOwner, RoleAdmin, true},
		{RoleOwner, RoleOwner, "", true},
		{RoleOwner, "", RoleOwner, true},
		{RoleAdmin, RoleMember, RoleAdmin, true},
		{RoleAdmin, "", RoleViewer, true},
		{RoleAdmin, RoleViewer, "", true},
		{RoleAdmin, RoleAdmin, RoleMember, true},
		{RoleAdmin, RoleMember, RoleOwner, false}, // only an owner makes owners
		{RoleAdmin, RoleOwner, RoleAdmin, false},  // … or unmakes them
		{RoleAdmin, RoleOwner, "", false},         // … or removes them
		{RoleAdmin, "", RoleOwner, false},
		{RoleBilling, RoleViewer, RoleMember, false},
		{RoleMember, "", RoleViewer, false},
		{RoleViewer, RoleViewer, "", false},
	}
	for _, tt := range tests {
		if got := tt.actor.CanChangeMember(tt.from, tt.to); got != tt.want {
			t.Errorf("%s changing %q→%q = %v, want %v", tt.actor, tt.from, tt.to, got, tt.want)
		}
	}
}

func TestCanManageKey(t *testing.T) {
	own := APIKey{WorkspaceID: "ws_a", MemberID: "usr_me"}
	other := APIKey{WorkspaceID: "ws_a", MemberID: "usr_other"}
	project := APIKey{WorkspaceID: "ws_a"}
	elsewhere := APIKey{WorkspaceID: "ws_b", MemberID: "usr_me"}
	tests := []struct {
		role                             Role
		own, other, project, elsewhereOK bool
	}{
		{RoleOwner, true, true, true, false},
		{RoleAdmin, true, true, true, false},
		{RoleMember, true, false, false, false},
		{RoleBilling, false, false, false, false},
		{RoleViewer, false, false, false, false},
	}
	for _, tt := range tests {
		m := Member{WorkspaceID: "ws_a", UserID: "usr_me", Role: tt.role}
		for _, c := range []struct {
			name string
			k    APIKey
			want bool
		}{{"own", own, tt.own}, {"other's", other, tt.other}, {"project", project, tt.project}, {"another workspace's", elsewhere, tt.elsewhereOK}} {
			if got := CanManageKey(m, c.k); got != c.want {
				t.Errorf("%s managing %s key = %v, want %v", tt.role, c.name, got, c.want)
			}
		}
	}
}
