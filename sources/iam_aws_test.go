package sources

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/secslo/secslo/slo"
	"go.yaml.in/yaml/v3"
)

const (
	iamFixture         = "testdata/iam_aws/authz-details.json"
	iamFixtureBaseline = "testdata/iam_aws/baseline.yaml"
	iamSample          = "../../shared/samples/cloudsplaining-example-authz-details.json"
)

// privilegeOptionsNode parses the options of a source from YAML text.
func privilegeOptionsNode(t testing.TB, text string) yaml.Node {
	t.Helper()
	if text == "" {
		return yaml.Node{}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("invalid options in test: %v", err)
	}
	return *doc.Content[0]
}

// newAWSIAMForTest builds an aws_iam source whose log goes to logs.
func newAWSIAMForTest(t testing.TB, paths []string, options string, logs io.Writer) Source {
	t.Helper()
	cfg := Config{Name: "iam", Type: "aws_iam", Paths: paths, Options: privilegeOptionsNode(t, options)}
	src, err := NewAWSIAM(cfg, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatalf("NewAWSIAM: %v", err)
	}
	return src
}

func privilegeRefresh(t testing.TB, src Source) *Result {
	t.Helper()
	result, err := src.Refresh(context.Background())
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	return result
}

// privilegeNoncompliant indexes the triage list of a result by object id.
func privilegeNoncompliant(result *Result) map[string]Object {
	objects := make(map[string]Object, len(result.Noncompliant))
	for _, object := range result.Noncompliant {
		objects[object.ID] = object
	}
	return objects
}

func checkPrivilegeSnapshot(t *testing.T, result *Result, objects, noncompliant int) {
	t.Helper()
	if len(result.Snapshots) != 1 {
		t.Fatalf("got %d snapshots, want 1", len(result.Snapshots))
	}
	got := result.Snapshots[0]
	if got.SLI != slo.SLIPrivilegeDrift {
		t.Errorf("snapshot SLI = %q, want %q", got.SLI, slo.SLIPrivilegeDrift)
	}
	if got.Objects != objects {
		t.Errorf("objects = %d, want %d", got.Objects, objects)
	}
	if got.Noncompliant != noncompliant && len(result.Noncompliant) <= 20 {
		t.Errorf("noncompliant = %d, want %d (triage list: %+v)", got.Noncompliant, noncompliant, result.Noncompliant)
	} else if got.Noncompliant != noncompliant {
		t.Errorf("noncompliant = %d, want %d", got.Noncompliant, noncompliant)
	}
	if len(result.Noncompliant) != got.Noncompliant {
		t.Errorf("triage list has %d objects, snapshot counts %d", len(result.Noncompliant), got.Noncompliant)
	}
}

func privilegeSkipWithoutSample(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("sample %s is absent: the shared samples folder is not next to the checkout", path)
	}
}

func TestAWSIAMSampleRoles(t *testing.T) {
	privilegeSkipWithoutSample(t, iamSample)
	result := privilegeRefresh(t, newAWSIAMForTest(t, []string{iamSample}, "", io.Discard))

	checkPrivilegeSnapshot(t, result, 3, 3)
	if result.RecordsRead != 40 {
		t.Errorf("records read = %d, want 40 (3 roles, 3 users, 2 groups, 32 policies)", result.RecordsRead)
	}
	if result.RecordsRejected != 0 {
		t.Errorf("records rejected = %d, want 0", result.RecordsRejected)
	}

	role, ok := privilegeNoncompliant(result)["arn:aws:iam::012345678901:role/OverprivilegedEC2"]
	if !ok {
		t.Fatalf("OverprivilegedEC2 is not in the triage list: %+v", result.Noncompliant)
	}
	for _, want := range []string{
		"secret_read (secretsmanager:GetSecretValue on * in SupYo (inline))",
		"credential_creation (iam:CreateAccessKey in SupYo (inline))",
		"acl_change (s3:PutObjectAcl on * in InsecurePolicy)",
	} {
		if !strings.Contains(role.Reason, want) {
			t.Errorf("OverprivilegedEC2 reason %q lacks %q", role.Reason, want)
		}
	}
}

func TestAWSIAMSampleUsers(t *testing.T) {
	privilegeSkipWithoutSample(t, iamSample)
	src := newAWSIAMForTest(t, []string{iamSample}, "principal_types: [role, user, group]", io.Discard)
	result := privilegeRefresh(t, src)

	checkPrivilegeSnapshot(t, result, 8, 8)
	obama, ok := privilegeNoncompliant(result)["arn:aws:iam::012345678901:user/obama"]
	if !ok {
		t.Fatalf("user obama is not in the triage list: %+v", result.Noncompliant)
	}
	if want := "full_admin (* in AdministratorAccess, * in AdministratorAccess via group admin)"; !strings.Contains(obama.Reason, want) {
		t.Errorf("obama reason %q lacks %q", obama.Reason, want)
	}
}

func TestAWSIAMFixtureWithBaseline(t *testing.T) {
	options := fmt.Sprintf("baseline: %s\nprincipal_types: [role, user, group]", iamFixtureBaseline)
	result := privilegeRefresh(t, newAWSIAMForTest(t, []string{iamFixture}, options, io.Discard))

	checkPrivilegeSnapshot(t, result, 10, 6)
	objects := privilegeNoncompliant(result)
	arn := "arn:aws:iam::111122223333:"
	cases := []struct {
		name   string
		id     string
		reason string // empty when the principal must be within its baseline
	}{
		{"inline statement as one object", arn + "role/app-reader", ""},
		{"default version of a managed policy", arn + "role/app-writer", ""},
		{"accepted rule in a URL-encoded document", arn + "role/deploy", ""},
		{"exact Deny removes a grant", arn + "role/denied-keys", ""},
		{"NotAction counts as every action", arn + "role/power-user", "high-risk rules: full_admin (* except iam:*, organizations:* in PowerUserLike)"},
		{"Deny with a Condition is ignored", arn + "role/conditional-deny", "secret_read (kms:Decrypt on * in decrypt-unless-tagged (inline))"},
		{"action outside a glob principal's baseline", arn + "role/ci/ci-runner", "actions outside the baseline: EC2:DescribeInstances"},
		{"principal without a baseline entry", arn + "role/unlisted", "no baseline entry matches this principal, which is granted 1 action"},
		{"user inherits group policies", arn + "user/alice", "secret_read (secretsmanager:GetSecretValue on * in read-secrets (inline) via group devs)"},
		{"group outside its baseline", arn + "group/devs", "actions outside the baseline: secretsmanager:GetSecretValue"},
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
}

func TestAWSIAMFixtureWithoutBaseline(t *testing.T) {
	result := privilegeRefresh(t, newAWSIAMForTest(t, []string{iamFixture}, "", io.Discard))

	checkPrivilegeSnapshot(t, result, 8, 3)
	objects := privilegeNoncompliant(result)
	for _, name := range []string{"deploy", "power-user", "conditional-deny"} {
		if _, ok := objects["arn:aws:iam::111122223333:role/"+name]; !ok {
			t.Errorf("role %s is not in the triage list: %+v", name, result.Noncompliant)
		}
	}
}

func TestAWSIAMBaselineEditAppliesAtRefresh(t *testing.T) {
	dir := t.TempDir()
	baselinePath := filepath.Join(dir, "baseline.yaml")
	privilegeWriteFile(t, baselinePath, "principals:\n  - principal: '*'\n    allowed_actions: ['*']\n")
	src := newAWSIAMForTest(t, []string{iamFixture}, "baseline: "+baselinePath, io.Discard)

	checkPrivilegeSnapshot(t, privilegeRefresh(t, src), 8, 3)

	privilegeWriteFile(t, baselinePath, "principals:\n  - principal: '*'\n    allowed_actions: ['s3:*']\n")
	checkPrivilegeSnapshot(t, privilegeRefresh(t, src), 8, 6)

	privilegeWriteFile(t, baselinePath, "principals:\n  - principal: '*'\n    allowed: ['s3:*']\n")
	_, err := src.Refresh(context.Background())
	if err == nil || !strings.Contains(err.Error(), "field allowed not found") {
		t.Errorf("refresh with a broken baseline: err = %v, want the unknown field named", err)
	}
}

func TestAWSIAMMultipleFiles(t *testing.T) {
	dir := t.TempDir()
	second := filepath.Join(dir, "second.json")
	privilegeWriteFile(t, second, `{"RoleDetailList": [{"RoleName": "other", "Arn": "arn:aws:iam::444455556666:role/other",
	  "RolePolicyList": [], "AttachedManagedPolicies": []}]}`)

	result := privilegeRefresh(t, newAWSIAMForTest(t, []string{iamFixture, second}, "", io.Discard))
	checkPrivilegeSnapshot(t, result, 9, 3)

	var logs bytes.Buffer
	result = privilegeRefresh(t, newAWSIAMForTest(t, []string{iamFixture, iamFixture}, "", &logs))
	checkPrivilegeSnapshot(t, result, 0, 0)
	if result.RecordsRejected != 16 {
		t.Errorf("records rejected = %d, want 16 (8 roles listed twice)", result.RecordsRejected)
	}
	if !privilegeLogHas(t, &logs, "err", "appears 2 times across the files of this source") {
		t.Errorf("log lacks the duplicate ARN message:\n%s", logs.String())
	}
}

// privilegeLogHas reports whether a JSON log has a line whose key contains
// want.
func privilegeLogHas(t testing.TB, logs *bytes.Buffer, key, want string) bool {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var record map[string]any
		if err := json.Unmarshal([]byte(line), &record); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if value, ok := record[key]; ok && strings.Contains(fmt.Sprint(value), want) {
			return true
		}
	}
	return false
}

func privilegeWriteFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// iamRoleJSON returns one RoleDetailList entry with an inline policy whose
// PolicyDocument is the given JSON value.
func iamRoleJSON(name, document string) string {
	return fmt.Sprintf(`{"RoleName": %q, "Arn": "arn:aws:iam::111122223333:role/%s",
	  "RolePolicyList": [{"PolicyName": "inline", "PolicyDocument": %s}], "AttachedManagedPolicies": []}`, name, name, document)
}

const iamReadDocument = `{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}`

func TestAWSIAMFileErrors(t *testing.T) {
	good := `{"RoleDetailList": [` + iamRoleJSON("a", iamReadDocument) + `]}`
	cases := []struct {
		name string
		data string
		want string
	}{
		{"empty file", "", "file is empty"},
		{"white space only", " \n\t\n", "file is empty"},
		{"truncated JSON", good[:len(good)/2], "truncated JSON"},
		{"truncated after the last record", good[:len(good)-1], "truncated JSON"},
		{"syntax error", `{"RoleDetailList": [}`, "1:21: invalid JSON"},
		{"top level is an array", `[]`, "1:1: the top level must be the JSON output of aws iam get-account-authorization-details, found an array"},
		{"top level is a string", `"roles"`, "the top level must be the JSON output"},
		{"role list is an object", `{"RoleDetailList": {}}`, "1:20: RoleDetailList must be a JSON array, found an object"},
		{"policy list is null", `{"Policies": null}`, "Policies must be a JSON array, found null"},
		{"duplicate list key", `{"RoleDetailList": [], "RoleDetailList": []}`, `duplicate key "RoleDetailList"`},
		{"paginated export", `{"RoleDetailList": [], "IsTruncated": true, "Marker": "abc"}`, "IsTruncated is true"},
		{"two objects", `{"RoleDetailList": []} {}`, "unexpected data after the top-level JSON object"},
		{"IsTruncated of the wrong type", `{"IsTruncated": "yes"}`, "IsTruncated: field value is a JSON string, expected a boolean"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "export.json")
			privilegeWriteFile(t, path, tc.data)
			src := newAWSIAMForTest(t, []string{path}, "", io.Discard)

			result, err := src.Refresh(context.Background())
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

func TestAWSIAMMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.json")
	_, err := newAWSIAMForTest(t, []string{path}, "", io.Discard).Refresh(context.Background())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error = %v, want fs.ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestAWSIAMByteOrderMark(t *testing.T) {
	path := filepath.Join(t.TempDir(), "export.json")
	privilegeWriteFile(t, path, "\xef\xbb\xbf"+`{"RoleDetailList": [`+iamRoleJSON("a", iamReadDocument)+`]}`)

	result := privilegeRefresh(t, newAWSIAMForTest(t, []string{path}, "", io.Discard))
	checkPrivilegeSnapshot(t, result, 1, 0)
}

func TestAWSIAMRejectsRecords(t *testing.T) {
	policy := func(document string) string {
		return `{"PolicyName": "P", "Arn": "arn:aws:iam::111122223333:policy/P",
		  "PolicyVersionList": [{"Document": ` + document + `, "VersionId": "v1", "IsDefaultVersion": true}]}`
	}
	attached := `{"RoleName": "uses-p", "Arn": "arn:aws:iam::111122223333:role/uses-p",
	  "AttachedManagedPolicies": [{"PolicyName": "P", "PolicyArn": "arn:aws:iam::111122223333:policy/P"}]}`
	cases := []struct {
		name     string
		roles    []string
		policies []string
		rejected int
		want     string
	}{
		{"role name of the wrong type", []string{`{"RoleName": 7, "Arn": "arn:aws:iam::1:role/x"}`}, nil, 1,
			"RoleDetailList item 1: field RoleName is a JSON number, expected a string"},
		{"policy list of the wrong type", []string{`{"RoleName": "x", "Arn": "arn:aws:iam::1:role/x", "RolePolicyList": {}}`}, nil, 1,
			"field RolePolicyList is a JSON object, expected an array"},
		{"missing role name", []string{`{"Arn": "arn:aws:iam::1:role/x"}`}, nil, 1, "RoleDetailList item 1: missing RoleName"},
		{"missing ARN", []string{`{"RoleName": "x"}`}, nil, 1, `role "x": missing Arn`},
		{"duplicate role names", []string{iamRoleJSON("twin", iamReadDocument), iamRoleJSON("twin", iamReadDocument)}, nil, 2,
			`duplicate role name "twin" on lines 2, 4`},
		{"document not JSON after URL-decoding", []string{iamRoleJSON("x", `"%7B%22Statement%22%3A"`)}, nil, 1,
			`role "x": inline policy "inline": policy document is not valid JSON after URL-decoding`},
		{"document with invalid URL encoding", []string{iamRoleJSON("x", `"%7B%zz"`)}, nil, 1, "policy document is not valid URL encoding"},
		{"missing document", []string{iamRoleJSON("x", `null`)}, nil, 1, "missing policy document"},
		{"action of the wrong type", []string{iamRoleJSON("x", `{"Statement": {"Effect": "Allow", "Action": 3, "Resource": "*"}}`)}, nil, 1,
			"expected a string or a list of strings"},
		{"invalid effect", []string{iamRoleJSON("x", `{"Statement": {"Effect": "allow", "Action": "s3:*", "Resource": "*"}}`)}, nil, 1,
			`statement 1: invalid Effect "allow": use Allow or Deny`},
		{"Action and NotAction together", []string{iamRoleJSON("x", `{"Statement": {"Effect": "Allow", "Action": "s3:*", "NotAction": "iam:*", "Resource": "*"}}`)}, nil, 1,
			"exactly one of Action and NotAction"},
		{"statement without Resource", []string{iamRoleJSON("x", `{"Statement": {"Effect": "Allow", "Action": "s3:*"}}`)}, nil, 1,
			"exactly one of Resource and NotResource"},
		{"document without Statement", []string{iamRoleJSON("x", `{"Version": "2012-10-17"}`)}, nil, 1, "policy document has no Statement"},
		{"attached policy not exported", []string{attached}, nil, 1,
			"attached managed policy arn:aws:iam::111122223333:policy/P is not in Policies"},
		{"attached policy rejected", []string{attached}, []string{policy(`"%7B"`)}, 2,
			"attached managed policy arn:aws:iam::111122223333:policy/P was rejected"},
		{"policy listed twice", []string{attached}, []string{policy(iamReadDocument), policy(iamReadDocument)}, 3,
			"policy arn:aws:iam::111122223333:policy/P is listed 2 times"},
		{"policy without a default version", nil, []string{`{"PolicyName": "P", "Arn": "arn:aws:iam::1:policy/P",
		  "PolicyVersionList": [{"Document": ` + iamReadDocument + `, "VersionId": "v1", "IsDefaultVersion": false}]}`}, 1,
			"no version in PolicyVersionList is the default"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// A valid role follows, because a file whose every record is rejected fails whole.
			roles := append(slices.Clone(tc.roles), iamRoleJSON("valid", iamReadDocument))
			data := fmt.Sprintf("{\"RoleDetailList\": [\n%s\n],\n\"Policies\": [%s]}", strings.Join(roles, ",\n"), strings.Join(tc.policies, ",\n"))
			path := filepath.Join(t.TempDir(), "export.json")
			privilegeWriteFile(t, path, data)
			var logs bytes.Buffer

			result := privilegeRefresh(t, newAWSIAMForTest(t, []string{path}, "", &logs))
			if result.RecordsRejected != tc.rejected {
				t.Errorf("records rejected = %d, want %d", result.RecordsRejected, tc.rejected)
			}
			if result.RecordsRead != len(roles)+len(tc.policies) {
				t.Errorf("records read = %d, want %d", result.RecordsRead, len(roles)+len(tc.policies))
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

func TestAWSIAMRejectionNamesLine(t *testing.T) {
	data := "{\n  \"RoleDetailList\": [\n    " + iamRoleJSON("ok", iamReadDocument) + ",\n    {\"RoleName\": false}\n  ]\n}\n"
	path := filepath.Join(t.TempDir(), "export.json")
	privilegeWriteFile(t, path, data)
	var logs bytes.Buffer

	result := privilegeRefresh(t, newAWSIAMForTest(t, []string{path}, "", &logs))
	checkPrivilegeSnapshot(t, result, 1, 0)
	if want := path + ":5:5: RoleDetailList item 2"; !privilegeLogHas(t, &logs, "err", want) {
		t.Errorf("log lacks the position %q:\n%s", want, logs.String())
	}
}

func TestAWSIAMLogsCappedRejections(t *testing.T) {
	var roles []string
	for i := 0; i < privilegeMaxLoggedRejects+5; i++ {
		roles = append(roles, fmt.Sprintf(`{"RoleName": "r%d"}`, i))
	}
	path := filepath.Join(t.TempDir(), "export.json")
	privilegeWriteFile(t, path, `{"RoleDetailList": [`+strings.Join(roles, ",")+`, `+iamRoleJSON("valid", iamReadDocument)+`]}`)
	var logs bytes.Buffer

	result := privilegeRefresh(t, newAWSIAMForTest(t, []string{path}, "", &logs))
	if result.RecordsRejected != len(roles) {
		t.Errorf("records rejected = %d, want %d", result.RecordsRejected, len(roles))
	}
	if got := strings.Count(logs.String(), `"msg":"rejected record"`); got != privilegeMaxLoggedRejects {
		t.Errorf("logged %d rejections, want %d", got, privilegeMaxLoggedRejects)
	}
	if !privilegeLogHas(t, &logs, "not_logged", "5") {
		t.Errorf("log lacks the summary of unlogged rejections:\n%s", logs.String())
	}
	if !privilegeLogHas(t, &logs, "line", "1") {
		t.Errorf("log lacks the line of a rejected record:\n%s", logs.String())
	}
}

func TestAWSIAMEveryRecordRejected(t *testing.T) {
	path := filepath.Join(t.TempDir(), "export.json")
	privilegeWriteFile(t, path, `{"RoleDetailList": [{"name": "a"}, {"name": "b"}]}`)

	result, err := newAWSIAMForTest(t, []string{path}, "", io.Discard).Refresh(context.Background())
	if err == nil {
		t.Fatalf("Refresh returned %+v, want an error", result)
	}
	if want := "all 2 records were rejected, so the file is not in a format this source reads; first problem: "; !strings.Contains(err.Error(), want) {
		t.Errorf("error = %q, want it to contain %q", err, want)
	}
	if want := "RoleDetailList item 1: missing RoleName"; !strings.Contains(err.Error(), want) {
		t.Errorf("error = %q, want it to contain the first problem %q", err, want)
	}
}

func TestNewAWSIAMRejectsConfig(t *testing.T) {
	cases := []struct {
		name    string
		paths   []string
		url     string
		options string
		want    string
	}{
		{"missing paths", nil, "", "", "missing paths"},
		{"URL", []string{iamFixture}, "http://127.0.0.1:1/", "", "url is not supported"},
		{"unknown option", []string{iamFixture}, "", "baselines: x.yaml", "field baselines not found"},
		{"unknown principal type", []string{iamFixture}, "", "principal_types: [roles]", `invalid options.principal_types entry "roles"`},
		{"principal type twice", []string{iamFixture}, "", "principal_types: [role, role]", `lists "role" twice`},
		{"missing baseline file", []string{iamFixture}, "", "baseline: testdata/iam_aws/absent.yaml", "failed to read baseline file"},
		{"baseline with a Kubernetes rule", []string{iamFixture}, "", "baseline: testdata/rbac/baseline.yaml", `unknown high-risk rule "pod_exec"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Name: "iam", Type: "aws_iam", Paths: tc.paths, URL: tc.url, Options: privilegeOptionsNode(t, tc.options)}
			_, err := NewAWSIAM(cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewAWSIAM error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestAWSIAMRefreshStopsOnCancel(t *testing.T) {
	src := newAWSIAMForTest(t, []string{iamFixture}, "", io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	result, err := src.Refresh(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Refresh with a cancelled context = %+v, %v; want context.Canceled", result, err)
	}
}

func TestIsAnyIAMResource(t *testing.T) {
	cases := []struct {
		resource string
		want     bool
	}{
		{"*", true},
		{"arn:aws:s3:::*", true},
		{"arn:aws:s3:::*/*", true},
		{"arn:aws:s3:::bucket/*", false},
		{"arn:aws:secretsmanager:*:*:secret:*", true},
		{"arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-*", false},
		{"arn:aws:ssm:*:*:parameter/*", true},
		{"arn:aws:iam::111122223333:role/app", false},
		{"arn:aws:iam::111122223333:*", true},
		{"not-an-arn", false},
	}
	for _, tc := range cases {
		if got := isAnyIAMResource(tc.resource); got != tc.want {
			t.Errorf("isAnyIAMResource(%q) = %v, want %v", tc.resource, got, tc.want)
		}
	}
}

func FuzzParseAuthorizationDetails(f *testing.F) {
	fixture, err := os.ReadFile(iamFixture)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(fixture)
	f.Add([]byte(`{"RoleDetailList": [` + iamRoleJSON("a", `"%7B%22Statement%22%3A%5B%5D%7D"`) + `]}`))
	f.Add([]byte(`{"Policies": [{"Arn": "p", "PolicyVersionList": [{"Document": {"Statement": {"Effect": "Allow", "NotAction": "iam:*", "NotResource": "x"}}, "IsDefaultVersion": true}]}]}`))
	f.Add([]byte(`{"UserDetailList": [{"UserName": "u", "Arn": "a", "GroupList": ["g"]}], "GroupDetailList": [{"GroupName": "g", "Arn": "b"}]}`))
	f.Add([]byte("\xef\xbb\xbf{}"))
	scope := map[string]bool{iamKindRole: true, iamKindUser: true, iamKindGroup: true}

	f.Fuzz(func(t *testing.T, data []byte) {
		export, err := parseAuthorizationDetails("fuzz.json", data)
		if err != nil {
			var inputErr *InputError
			if !errors.As(err, &inputErr) {
				t.Fatalf("error %v is not an InputError", err)
			}
			return
		}
		rejects := &privilegeRejects{logger: slog.New(slog.DiscardHandler), source: "fuzz"}
		outcomes, err := evaluateIAMExport(context.Background(), export, nil, scope, rejects)
		if err != nil {
			t.Fatal(err)
		}
		if len(outcomes)+rejects.count > len(export.principals)+len(export.policies) {
			t.Fatalf("%d outcomes and %d rejections from %d records", len(outcomes), rejects.count, len(export.principals)+len(export.policies))
		}
		for _, outcome := range outcomes {
			if outcome.finding.drifts() && outcome.finding.reason() == "" {
				t.Fatalf("principal %s drifts with an empty reason", outcome.arn)
			}
		}
	})
}

// writeLargeIAMExport writes an export of roles roles, each with two inline
// policies of its own and two of 100 managed policies, and a baseline of 200
// entries, half exact names and half globs. It returns both paths.
func writeLargeIAMExport(tb testing.TB, roles int) (exportPath, baselinePath string) {
	tb.Helper()
	type statement = map[string]any
	document := func(statements ...statement) map[string]any {
		return map[string]any{"Version": "2012-10-17", "Statement": statements}
	}

	var policies []map[string]any
	for i := 0; i < 100; i++ {
		old := document(statement{"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
		current := document(
			statement{"Effect": "Allow", "Action": []string{"s3:GetObject", "s3:PutObject", "s3:ListBucket"}, "Resource": fmt.Sprintf("arn:aws:s3:::bucket-%d/*", i)},
			statement{"Effect": "Allow", "Action": "dynamodb:Query", "Resource": fmt.Sprintf("arn:aws:dynamodb:eu-west-1:111122223333:table/t%d", i)},
		)
		policies = append(policies, map[string]any{
			"PolicyName": fmt.Sprintf("managed-%d", i), "Arn": fmt.Sprintf("arn:aws:iam::111122223333:policy/managed-%d", i),
			"DefaultVersionId": "v2",
			"PolicyVersionList": []map[string]any{
				{"Document": current, "VersionId": "v2", "IsDefaultVersion": true},
				{"Document": old, "VersionId": "v1", "IsDefaultVersion": false},
			},
		})
	}

	var details []map[string]any
	for i := 0; i < roles; i++ {
		inline := []map[string]any{
			{"PolicyName": "logs", "PolicyDocument": document(statement{"Effect": "Allow", "Action": []string{"logs:CreateLogStream", "logs:PutLogEvents"},
				"Resource": fmt.Sprintf("arn:aws:logs:eu-west-1:111122223333:log-group:/app/role-%05d:*", i)})},
			{"PolicyName": "tasks", "PolicyDocument": document(
				statement{"Effect": "Allow", "Action": []string{"sqs:SendMessage", "sqs:ReceiveMessage", "kms:Decrypt"},
					"Resource": []string{fmt.Sprintf("arn:aws:sqs:eu-west-1:111122223333:queue-%05d", i), "*"}},
				statement{"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"},
			)},
		}
		if i%10 == 0 {
			inline = append(inline, map[string]any{"PolicyName": "admin", "PolicyDocument": document(statement{"Effect": "Allow", "Action": "*", "Resource": "*"})})
		}
		details = append(details, map[string]any{
			"RoleName": fmt.Sprintf("role-%05d", i), "Arn": fmt.Sprintf("arn:aws:iam::111122223333:role/team-%d/role-%05d", i%50, i),
			"RoleId": fmt.Sprintf("AROA%016d", i), "Path": "/", "Tags": []any{},
			"RolePolicyList": inline,
			"AttachedManagedPolicies": []map[string]any{
				{"PolicyName": fmt.Sprintf("managed-%d", i%100), "PolicyArn": fmt.Sprintf("arn:aws:iam::111122223333:policy/managed-%d", i%100)},
				{"PolicyName": fmt.Sprintf("managed-%d", (i+7)%100), "PolicyArn": fmt.Sprintf("arn:aws:iam::111122223333:policy/managed-%d", (i+7)%100)},
			},
		})
	}

	data, err := json.MarshalIndent(map[string]any{"RoleDetailList": details, "Policies": policies}, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	exportPath = filepath.Join(dir, "export.json")
	privilegeWriteFile(tb, exportPath, string(data))

	var baseline strings.Builder
	baseline.WriteString("principals:\n")
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&baseline, "  - principal: role-%05d\n    allowed_actions: [\"logs:*\", \"sqs:*\", \"s3:Get*\", \"s3:PutObject\", \"s3:List*\", \"dynamodb:Query\"]\n", i*97)
		fmt.Fprintf(&baseline, "  - principal: arn:aws:iam::*:role/team-%d/*\n    allowed_actions: [\"logs:*\", \"sqs:SendMessage\"]\n", i)
	}
	baselinePath = filepath.Join(dir, "baseline.yaml")
	privilegeWriteFile(tb, baselinePath, baseline.String())
	return exportPath, baselinePath
}

// BenchmarkAWSIAMRefresh10000Roles measures one whole refresh, from reading
// the file to the triage list, of an export with 10,000 roles.
func BenchmarkAWSIAMRefresh10000Roles(b *testing.B) {
	exportPath, baselinePath := writeLargeIAMExport(b, 10000)
	info, err := os.Stat(exportPath)
	if err != nil {
		b.Fatal(err)
	}
	src := newAWSIAMForTest(b, []string{exportPath}, "baseline: "+baselinePath, io.Discard)
	b.SetBytes(info.Size())
	b.ReportAllocs()

	for b.Loop() {
		result, err := src.Refresh(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if result.Snapshots[0].Objects != 10000 {
			b.Fatalf("objects = %d, want 10000", result.Snapshots[0].Objects)
		}
	}
}

func TestAWSIAMLargeExport(t *testing.T) {
	exportPath, baselinePath := writeLargeIAMExport(t, 1000)
	result := privilegeRefresh(t, newAWSIAMForTest(t, []string{exportPath}, "baseline: "+baselinePath, io.Discard))

	// A role within its baseline has an exact entry (every 97th role) and no
	// admin policy (every 10th role has one). The glob entries alone miss
	// s3 and dynamodb actions, and the Deny removes kms:Decrypt from all.
	within := 0
	for i := 0; i < 1000; i += 97 {
		if i%10 != 0 {
			within++
		}
	}
	checkPrivilegeSnapshot(t, result, 1000, 1000-within)

	objects := privilegeNoncompliant(result)
	admin := objects["arn:aws:iam::111122223333:role/team-0/role-00000"]
	if want := "actions outside the baseline: *; high-risk rules: full_admin (* in admin (inline))"; admin.Reason != want {
		t.Errorf("role-00000 reason = %q, want %q", admin.Reason, want)
	}
	if _, drifts := objects["arn:aws:iam::111122223333:role/team-47/role-00097"]; drifts {
		t.Error("role-00097 drifts, but its exact baseline entry covers every action it holds")
	}
}

func TestAWSIAMCRLFLines(t *testing.T) {
	data, err := os.ReadFile(iamFixture)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "export.json")
	privilegeWriteFile(t, path, strings.ReplaceAll(string(data), "\n", "\r\n"))

	result := privilegeRefresh(t, newAWSIAMForTest(t, []string{path}, "", io.Discard))
	checkPrivilegeSnapshot(t, result, 8, 3)
}
