package sources

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	rbacManifests = "testdata/rbac/manifests.yaml"
	rbacList      = "testdata/rbac/list.json"
	rbacBaseline  = "testdata/rbac/baseline.yaml"
	rbacSample    = "../../shared/samples/rbac-tool-multiple-role-bindings.yaml"
)

// newKubernetesRBACForTest builds a kubernetes_rbac source whose JSON log
// goes to logs.
func newKubernetesRBACForTest(t testing.TB, paths []string, options string, logs io.Writer) Source {
	t.Helper()
	cfg := Config{Name: "rbac", Type: "kubernetes_rbac", Paths: paths, Options: privilegeOptionsNode(t, options)}
	src, err := NewKubernetesRBAC(cfg, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("NewKubernetesRBAC: %v", err)
	}
	return src
}

func TestKubernetesRBACSample(t *testing.T) {
	privilegeSkipWithoutSample(t, rbacSample)
	result := privilegeRefresh(t, newKubernetesRBACForTest(t, []string{rbacSample}, "", io.Discard))

	checkPrivilegeSnapshot(t, result, 2, 2)
	if result.RecordsRead != 4 {
		t.Errorf("records read = %d, want 4 (2 Roles, 2 RoleBindings)", result.RecordsRead)
	}
	objects := privilegeNoncompliant(result)
	for _, id := range []string{"Role/policyrules/some-rules", "Role/policyrules/more-rules"} {
		object, ok := objects[id]
		if !ok {
			t.Errorf("%s is not in the triage list: %+v", id, result.Noncompliant)
			continue
		}
		for _, want := range []string{"wildcard (rule 2: get on * in group core)", "bound to ServiceAccount policyrules/the-test-user"} {
			if !strings.Contains(object.Reason, want) {
				t.Errorf("%s reason %q lacks %q", id, object.Reason, want)
			}
		}
	}
	if reason := objects["Role/policyrules/more-rules"].Reason; !strings.Contains(reason, "secret_read (rule 1: get on secrets in group core)") {
		t.Errorf("more-rules reason %q lacks the secret read of rule 1", reason)
	}
	if reason := objects["Role/policyrules/some-rules"].Reason; strings.Contains(reason, "secret_read") {
		t.Errorf("some-rules reads only the named secret some-secret, but its reason reports secret_read: %q", reason)
	}
}

func TestKubernetesRBACFixtureWithBaseline(t *testing.T) {
	src := newKubernetesRBACForTest(t, []string{rbacManifests, rbacList}, "baseline: "+rbacBaseline, io.Discard)
	result := privilegeRefresh(t, src)

	checkPrivilegeSnapshot(t, result, 12, 7)
	objects := privilegeNoncompliant(result)
	cases := []struct {
		name   string
		id     string
		reason string // empty when the role must be within its baseline
	}{
		{"role within its baseline", "Role/apps/app-reader", ""},
		{"named secret is no secret read", "Role/apps/secret-reader-named", ""},
		{"accepted pod exec", "Role/apps/debugger", ""},
		{"non-resource URL from a JSON List", "ClusterRole/metrics-reader", ""},
		{"namespace glob in the baseline", "Role/kube-system/leader-election", ""},
		{"role without a baseline entry", "Role/apps/extra", "no baseline entry matches this principal, which is granted 1 action"},
		{"wildcard verbs", "ClusterRole/ci-deployer", "wildcard (rule 1: * on deployments in group apps); bound to ServiceAccount apps/ci"},
		{"secret list", "ClusterRole/secret-lister", "secret_read (rule 1: list on secrets in group core); bound to Group auditors"},
		{"bind verb", "ClusterRole/role-binder", "escalation_verbs (rule 1: bind on clusterroles in group rbac.authorization.k8s.io)"},
		{"impersonate verb", "ClusterRole/impersonator", "escalation_verbs (rule 1: impersonate on serviceaccounts in group core)"},
		{"action outside the baseline", "ClusterRole/view-nodes", "actions outside the baseline: nodes:get"},
		{"cluster-admin bound to a user", "ClusterRole/cluster-admin", "cluster_admin_binding (ClusterRoleBinding oncall-admin binds User alice@example.com)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			object, drifts := objects[tc.id]
			switch {
			case tc.reason == "" && drifts:
				t.Errorf("%s drifts with %q, want within baseline", tc.id, object.Reason)
			case tc.reason != "" && !drifts:
				t.Errorf("%s is within baseline, want drift with %q", tc.id, tc.reason)
			case tc.reason != "" && !strings.Contains(object.Reason, tc.reason):
				t.Errorf("%s reason = %q, want it to contain %q", tc.id, object.Reason, tc.reason)
			}
		})
	}
	if reason := objects["ClusterRole/cluster-admin"].Reason; strings.Contains(reason, "binds Group system:masters") {
		t.Errorf("cluster-admin reason reports the default system:masters binding: %q", reason)
	}
}

func TestKubernetesRBACWithoutBaseline(t *testing.T) {
	result := privilegeRefresh(t, newKubernetesRBACForTest(t, []string{rbacManifests}, "", io.Discard))

	checkPrivilegeSnapshot(t, result, 10, 6)
	if result.RecordsRead != 14 {
		t.Errorf("records read = %d, want 14 (9 roles, 4 bindings, 1 ConfigMap)", result.RecordsRead)
	}
	if _, ok := privilegeNoncompliant(result)["Role/apps/debugger"]; !ok {
		t.Errorf("debugger is not in the triage list without the baseline that accepts pod_exec: %+v", result.Noncompliant)
	}
}

func TestKubernetesRBACSkipsOtherKinds(t *testing.T) {
	var logs bytes.Buffer
	result := privilegeRefresh(t, newKubernetesRBACForTest(t, []string{rbacManifests}, "", &logs))

	if result.RecordsRejected != 0 {
		t.Errorf("records rejected = %d, want 0: a ConfigMap is skipped, not rejected", result.RecordsRejected)
	}
	if !privilegeLogHas(t, &logs, "count", "1") {
		t.Errorf("log lacks count=1 of skipped objects:\n%s", logs.String())
	}
	if !privilegeLogHas(t, &logs, "kinds", "ConfigMap v1") {
		t.Errorf("log lacks the skipped kind:\n%s", logs.String())
	}

	input := newRBACInput()
	rejects := &privilegeRejects{logger: slog.New(slog.DiscardHandler), source: "test"}
	data := []byte("apiVersion: v1\nkind: Secret\n---\napiVersion: example.com/v1\nkind: Role\nmetadata: {name: x}\n---\nkind: Role\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: {name: y}\n")
	if err := parseRBAC("other.yaml", data, input, rejects); err != nil {
		t.Fatal(err)
	}
	if got := input.skippedCount(); got != 2 {
		t.Errorf("skipped %d objects, want 2 (a Secret and a Role of another API group)", got)
	}
	if got := input.skippedKinds(); got != "Role example.com/v1,Secret v1" {
		t.Errorf("skipped kinds = %q, want %q", got, "Role example.com/v1,Secret v1")
	}
	if len(input.roles) != 1 {
		t.Errorf("read %d roles, want 1", len(input.roles))
	}
}

func TestKubernetesRBACFileErrors(t *testing.T) {
	cases := []struct {
		name string
		data string
		want string
	}{
		{"empty file", "", "file is empty"},
		{"white space only", "\n  \n", "file is empty"},
		{"comments only", "# nothing here\n---\n# nor here\n", "file contains no Kubernetes objects"},
		{"unclosed flow sequence", "kind: Role\nrules: [\n", "invalid YAML"},
		{"truncated JSON List", `{"kind": "List", "items": [{"kind": "Role"`, "invalid YAML"},
		{"tab indentation", "kind: Role\nmetadata:\n\tname: x\n", "invalid YAML: yaml: line 3"},
		{"every object rejected", "just text\n---\n- a list\n", "all 2 records were rejected, so the file is not in a format this source reads"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "rbac.yaml")
			privilegeWriteFile(t, path, tc.data)

			result, err := newKubernetesRBACForTest(t, []string{path}, "", io.Discard).Refresh(context.Background())
			if err == nil {
				t.Fatalf("Refresh returned %+v, want an error containing %q", result, tc.want)
			}
			if result != nil {
				t.Errorf("Refresh returned a result with its error: %+v", result)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q, want it to contain %q", err, tc.want)
			}
			var inputErr *InputError
			if !errors.As(err, &inputErr) || inputErr.File != path {
				t.Errorf("error %v is not an InputError naming %s", err, path)
			}
		})
	}
}

func TestKubernetesRBACMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.yaml")
	_, err := newKubernetesRBACForTest(t, []string{path}, "", io.Discard).Refresh(context.Background())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error = %v, want fs.ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestKubernetesRBACByteOrderMark(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rbac.yaml")
	privilegeWriteFile(t, path, "\xef\xbb\xbf"+rbacRoleYAML("a", `{apiGroups: [""], resources: [pods], verbs: [get]}`))

	result := privilegeRefresh(t, newKubernetesRBACForTest(t, []string{path}, "", io.Discard))
	checkPrivilegeSnapshot(t, result, 1, 0)
}

// rbacRoleYAML returns a Role document in namespace apps with the given
// rules, each a YAML flow mapping.
func rbacRoleYAML(name string, rules ...string) string {
	text := "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  namespace: apps\n  name: " + name + "\nrules:\n"
	for _, rule := range rules {
		text += "  - " + rule + "\n"
	}
	return text
}

func TestKubernetesRBACRejectsRecords(t *testing.T) {
	podsRule := `{apiGroups: [""], resources: [pods], verbs: [get]}`
	cases := []struct {
		name     string
		data     string
		rejected int
		want     string
	}{
		{"verbs as a string", rbacRoleYAML("x", `{apiGroups: [""], resources: [pods], verbs: get}`), 1,
			"rbac.yaml:1:1: invalid Role: line 7: cannot unmarshal !!str `get` into []string"},
		{"duplicate role", rbacRoleYAML("twin", podsRule) + "---\n" + rbacRoleYAML("twin", podsRule), 2,
			"duplicate Role apps/twin, listed at"},
		{"missing kind", "apiVersion: v1\nmetadata: {name: x}\n", 1, "rbac.yaml:1:1: missing kind"},
		{"missing name", "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nrules: []\n", 1, "ClusterRole without metadata.name"},
		{"rule without verbs", rbacRoleYAML("x", `{apiGroups: [""], resources: [pods]}`), 1, "Role apps/x: rule 1: missing verbs"},
		{"rule without apiGroups", rbacRoleYAML("x", `{resources: [pods], verbs: [get]}`), 1, `missing apiGroups: use [""] for the core group`},
		{"rule without resources", rbacRoleYAML("x", `{apiGroups: [""], verbs: [get]}`), 1, "missing resources or nonResourceURLs"},
		{"non-resource URL in a Role", rbacRoleYAML("x", `{nonResourceURLs: [/metrics], verbs: [get]}`), 1, "nonResourceURLs are valid only in a ClusterRole"},
		{"scalar document", "just text\n", 1, "expected a Kubernetes object as a mapping"},
		{"binding without roleRef", "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: b, namespace: apps}\n", 1,
			"RoleBinding b: missing roleRef.name"},
		{"binding with an invalid roleRef kind", "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: b}\nroleRef: {kind: User, name: x}\n", 1,
			`invalid roleRef.kind "User"`},
		{"ClusterRoleBinding to a Role", "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {kind: Role, name: x}\n", 1,
			"a ClusterRoleBinding grants a ClusterRole"},
		{"list inside a list", `{"kind": "List", "items": [{"kind": "RoleList", "items": []}]}`, 1, "RoleList inside a List"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "rbac.yaml")
			// Every case also holds one valid role, so that the file is not empty of objects.
			privilegeWriteFile(t, path, tc.data+"\n---\n"+rbacRoleYAML("valid", podsRule))
			var logs bytes.Buffer

			result := privilegeRefresh(t, newKubernetesRBACForTest(t, []string{path}, "", &logs))
			if result.RecordsRejected != tc.rejected {
				t.Errorf("records rejected = %d, want %d", result.RecordsRejected, tc.rejected)
			}
			if !privilegeLogHas(t, &logs, "err", tc.want) {
				t.Errorf("log lacks %q:\n%s", tc.want, logs.String())
			}
			if !privilegeLogHas(t, &logs, "file", path) {
				t.Errorf("log does not name the file %s:\n%s", path, logs.String())
			}
		})
	}
}

func TestKubernetesRBACDuplicateAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	first, second := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	privilegeWriteFile(t, first, rbacRoleYAML("twin", `{apiGroups: [""], resources: [pods], verbs: [get]}`))
	privilegeWriteFile(t, second, rbacRoleYAML("twin", `{apiGroups: [""], resources: [pods], verbs: [list]}`))
	var logs bytes.Buffer

	result := privilegeRefresh(t, newKubernetesRBACForTest(t, []string{first, second}, "", &logs))
	checkPrivilegeSnapshot(t, result, 0, 0)
	if result.RecordsRejected != 2 {
		t.Errorf("records rejected = %d, want 2", result.RecordsRejected)
	}
	if want := "listed at " + first + ":1, " + second + ":1"; !privilegeLogHas(t, &logs, "err", want) {
		t.Errorf("log lacks %q:\n%s", want, logs.String())
	}
}

func TestNewKubernetesRBACRejectsConfig(t *testing.T) {
	cases := []struct {
		name    string
		paths   []string
		url     string
		options string
		want    string
	}{
		{"missing paths", nil, "", "", "missing paths"},
		{"URL", []string{rbacManifests}, "http://127.0.0.1:1/", "", "url is not supported"},
		{"unknown option", []string{rbacManifests}, "", "principal_types: [role]", "field principal_types not found"},
		{"baseline with an AWS rule", []string{rbacManifests}, "", "baseline: " + iamFixtureBaseline, `unknown high-risk rule "privilege_escalation"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Name: "rbac", Type: "kubernetes_rbac", Paths: tc.paths, URL: tc.url, Options: privilegeOptionsNode(t, tc.options)}
			_, err := NewKubernetesRBAC(cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewKubernetesRBAC error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestRBACActions(t *testing.T) {
	rule := rbacRule{APIGroups: []string{"", "apps"}, Resources: []string{"pods", "deployments"}, Verbs: []string{"get"}}
	want := []string{"pods:get", "deployments:get", "pods.apps:get", "deployments.apps:get"}
	if got := rbacActions(rule); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("rbacActions = %v, want %v", got, want)
	}

	urls := rbacRule{NonResourceURLs: []string{"/healthz", "/metrics"}, Verbs: []string{"get"}}
	if got := rbacActions(urls); strings.Join(got, " ") != "/healthz:get /metrics:get" {
		t.Errorf("rbacActions of non-resource URLs = %v", got)
	}
}

func TestRBACResourceMatches(t *testing.T) {
	cases := []struct {
		rule      []string
		requested string
		want      bool
	}{
		{[]string{"*"}, "pods/exec", true},
		{[]string{"pods/exec"}, "pods/exec", true},
		{[]string{"*/exec"}, "pods/exec", true},
		{[]string{"pods"}, "pods/exec", false},
		{[]string{"pods/*"}, "pods/exec", false},
		{[]string{"*/exec"}, "secrets", false},
	}
	for _, tc := range cases {
		if got := rbacResourceMatches(tc.rule, tc.requested); got != tc.want {
			t.Errorf("rbacResourceMatches(%v, %q) = %v, want %v", tc.rule, tc.requested, got, tc.want)
		}
	}
}

func FuzzParseRBAC(f *testing.F) {
	for _, path := range []string{rbacManifests, rbacList} {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("kind: List\nitems:\n  - kind: ClusterRoleBinding\n    apiVersion: rbac.authorization.k8s.io/v1\n    metadata: {name: a}\n    roleRef: {kind: ClusterRole, name: cluster-admin}\n    subjects: [{kind: User, name: u}]\n"))
	f.Add([]byte("\xef\xbb\xbf---\n# c\n---\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		input := newRBACInput()
		rejects := &privilegeRejects{logger: slog.New(slog.DiscardHandler), source: "fuzz"}
		err := parseRBAC("fuzz.yaml", data, input, rejects)
		if err != nil {
			var inputErr *InputError
			if !errors.As(err, &inputErr) {
				t.Fatalf("error %v is not an InputError", err)
			}
			return
		}

		roles := input.uniqueRoles(rejects)
		if len(roles) > input.records+1 {
			t.Fatalf("%d roles from %d records", len(roles), input.records)
		}
		result := &Result{}
		fillRBACResult(result, roles, input, nil)
		for _, object := range result.Noncompliant {
			if object.Reason == "" {
				t.Fatalf("role %s drifts with an empty reason", object.ID)
			}
		}
	})
}

func TestKubernetesRBACCRLFLines(t *testing.T) {
	data, err := os.ReadFile(rbacManifests)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rbac.yaml")
	privilegeWriteFile(t, path, strings.ReplaceAll(string(data), "\n", "\r\n"))

	result := privilegeRefresh(t, newKubernetesRBACForTest(t, []string{path}, "", io.Discard))
	checkPrivilegeSnapshot(t, result, 10, 6)
}

// BenchmarkKubernetesRBACRefresh5000Roles measures one refresh of a manifest
// with 5,000 Roles, each bound to one service account.
func BenchmarkKubernetesRBACRefresh5000Roles(b *testing.B) {
	var manifest strings.Builder
	for i := 0; i < 5000; i++ {
		manifest.WriteString(rbacRoleYAML(fmt.Sprintf("role-%05d", i),
			`{apiGroups: [""], resources: [pods, configmaps], verbs: [get, list, watch]}`,
			`{apiGroups: [apps], resources: [deployments], verbs: [get, update]}`))
		fmt.Fprintf(&manifest, "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {namespace: apps, name: bind-%05d}\n"+
			"subjects: [{kind: ServiceAccount, name: sa-%05d}]\nroleRef: {kind: Role, name: role-%05d, apiGroup: rbac.authorization.k8s.io}\n---\n", i, i, i)
	}
	path := filepath.Join(b.TempDir(), "rbac.yaml")
	privilegeWriteFile(b, path, manifest.String())
	src := newKubernetesRBACForTest(b, []string{path}, "", io.Discard)
	b.SetBytes(int64(manifest.Len()))
	b.ReportAllocs()

	for b.Loop() {
		result, err := src.Refresh(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if result.Snapshots[0].Objects != 5000 {
			b.Fatalf("objects = %d, want 5000", result.Snapshots[0].Objects)
		}
	}
}
