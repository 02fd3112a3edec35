package sources

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestGlobCovers(t *testing.T) {
	cases := []struct {
		pattern string
		text    string
		want    bool
	}{
		{"s3:GetObject", "s3:GetObject", true},
		{"s3:GetObject", "s3:GetObjectAcl", false},
		{"s3:Get*", "s3:GetObject", true},
		{"s3:Get*", "s3:Get*", true},
		{"s3:*", "s3:Get*", true},
		{"s3:GetObject*", "s3:Get*", false},
		{"s3:*Object", "s3:Get*", false},
		{"*", "*", true},
		{"*", "", true},
		{"s3:Get?bject", "s3:GetObject", true},
		{"s3:Get?", "s3:Get*", false},
		{"s3:Get?", "s3:Get?", true},
		{"s3:GetA", "s3:Get?", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"arn:aws:iam::*:role/app-*", "arn:aws:iam::111122223333:role/app-web", true},
		{"arn:aws:iam::*:role/app-*", "arn:aws:iam::111122223333:role/db", false},
		{"Role/apps/*", "Role/apps/reader", true},
		{"", "x", false},
	}
	for _, tc := range cases {
		if got := globCovers(tc.pattern, tc.text); got != tc.want {
			t.Errorf("globCovers(%q, %q) = %v, want %v", tc.pattern, tc.text, got, tc.want)
		}
	}
}

func TestLoadBaselineErrors(t *testing.T) {
	cases := []struct {
		name string
		data string
		want []string
	}{
		{"empty file", "", []string{"baseline file is empty"}},
		{"unknown key", "principals:\n  - principal: a\n    allowed: [x]\n", []string{"line 3: field allowed not found"}},
		{"wrong type", "principals:\n  - principal: a\n    allowed_actions: s3:GetObject\n", []string{"line 3: cannot unmarshal !!str"}},
		{"no principals", "principals: []\n", []string{"baseline lists no principals"}},
		{"missing principal", "principals:\n  - allowed_actions: [s3:GetObject]\n", []string{"baseline.yaml:2: missing principal"}},
		{"empty allowed action", "principals:\n  - principal: a\n    allowed_actions: ['']\n", []string{`principal "a": empty allowed action`}},
		{"unknown rule", "principals:\n  - principal: a\n    accepted_risks: [{rule: admin, reason: r}]\n", []string{
			`baseline.yaml:2: principal "a": unknown high-risk rule "admin": expected one of full_admin, service_wildcard`}},
		{"rule without reason", "principals:\n  - principal: a\n    accepted_risks: [{rule: secret_read}]\n", []string{
			`accepted high-risk rule "secret_read" has no reason`}},
		{"rule accepted twice", "principals:\n  - principal: a\n    accepted_risks: [{rule: acl_change, reason: r}, {rule: acl_change, reason: r}]\n", []string{
			`high-risk rule "acl_change" accepted twice`}},
		{"duplicate principal", "principals:\n  - principal: a\n  - principal: b\n  - principal: a\n", []string{
			`baseline.yaml:4: duplicate principal "a", first listed on line 2`}},
		{"two documents", "principals:\n  - principal: a\n---\nprincipals: []\n", []string{"a baseline file contains one YAML document"}},
		{"every problem at once", "principals:\n  - principal: ''\n  - principal: b\n    accepted_risks: [{rule: nope, reason: r}]\n", []string{
			"baseline.yaml:2: missing principal", `baseline.yaml:3: principal "b": unknown high-risk rule "nope"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "baseline.yaml")
			privilegeWriteFile(t, path, tc.data)

			_, err := loadBaseline(path, awsRiskRules, true)
			if err == nil {
				t.Fatalf("loadBaseline succeeded, want an error containing %q", tc.want)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error = %q, want it to contain %q", err, want)
				}
			}
			var inputErr *InputError
			if !errors.As(err, &inputErr) {
				t.Errorf("error %v is not an InputError", err)
			}
		})
	}
}

func TestLoadBaselineByteOrderMark(t *testing.T) {
	path := filepath.Join(t.TempDir(), "baseline.yaml")
	privilegeWriteFile(t, path, "\xef\xbb\xbfprincipals:\n  - principal: a\n    allowed_actions: [S3:GetObject]\n")

	base, err := loadBaseline(path, awsRiskRules, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := base.lookup("a", "a").allowed; !slices.Equal(got, []string{"s3:getobject"}) {
		t.Errorf("allowed actions = %v, want the folded [s3:getobject]", got)
	}
}

func TestBaselineLookupJoinsEntries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "baseline.yaml")
	privilegeWriteFile(t, path, `principals:
  - principal: "*"
    allowed_actions: [sts:GetCallerIdentity]
  - principal: arn:aws:iam::*:role/app-*
    allowed_actions: [s3:Get*]
    accepted_risks: [{rule: secret_read, reason: reads its database password}]
  - principal: app-web
    allowed_actions: [s3:PutObject]
`)
	base, err := loadBaseline(path, awsRiskRules, false)
	if err != nil {
		t.Fatal(err)
	}

	match := base.lookup("arn:aws:iam::111122223333:role/app-web", "app-web")
	if !match.matched {
		t.Fatal("app-web matches no entry")
	}
	if want := []string{"s3:PutObject", "sts:GetCallerIdentity", "s3:Get*"}; !slices.Equal(match.allowed, want) {
		t.Errorf("allowed = %v, want %v (exact entries first, then globs in file order)", match.allowed, want)
	}
	if !match.accepted["secret_read"] {
		t.Error("secret_read is not accepted for app-web")
	}

	other := base.lookup("arn:aws:iam::111122223333:role/db", "db")
	if !slices.Equal(other.allowed, []string{"sts:GetCallerIdentity"}) {
		t.Errorf("allowed for db = %v, want only the * entry", other.allowed)
	}
	if other.accepted["secret_read"] {
		t.Error("secret_read is accepted for db, which no app-* entry matches")
	}
}

func TestDriftReasonCapsLists(t *testing.T) {
	finding := driftFinding{outside: []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}}
	want := "actions outside the baseline: a, b, c, d, e, f, g, h and 2 more"
	if got := finding.reason(); got != want {
		t.Errorf("reason = %q, want %q", got, want)
	}
}

// FuzzGlobCovers checks the fast path for * against the general matcher.
func FuzzGlobCovers(f *testing.F) {
	f.Add("a*b*c", "axxbyyc")
	f.Add("*ab*ab", "abab")
	f.Add("arn:aws:iam::*:role/app-*", "arn:aws:iam::1:role/app-x")
	f.Fuzz(func(t *testing.T, pattern, text string) {
		if strings.ContainsAny(text, "*?") || strings.Contains(pattern, "?") {
			return
		}
		if got, want := starGlobMatch(pattern, text), globCoversGeneral(pattern, text); got != want {
			t.Errorf("starGlobMatch(%q, %q) = %v, general matcher = %v", pattern, text, got, want)
		}
	})
}
