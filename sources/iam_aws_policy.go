package sources

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// This file holds the IAM policy language as the aws_iam source reads it:
// policy documents, the grants and denies they compile to, and the
// assessment of a principal's grants against its baseline entry and the
// high-risk rules.

// iamPolicyDocument is an IAM policy document. Statement may be one object
// or a list.
type iamPolicyDocument struct {
	Statement iamStatements `json:"Statement"`
}

type iamStatements []iamStatement

func (s *iamStatements) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	var decoded []iamStatementJSON
	if len(data) > 0 && data[0] == '{' {
		decoded = make([]iamStatementJSON, 1)
		if err := json.Unmarshal(data, &decoded[0]); err != nil {
			return err
		}
	} else if err := json.Unmarshal(data, &decoded); err != nil {
		return err
	}

	statements := make(iamStatements, len(decoded))
	for i, statement := range decoded {
		converted, err := statement.convert()
		if err != nil {
			return fmt.Errorf("statement %d: %w", i+1, err)
		}
		statements[i] = converted
	}
	*s = statements
	return nil
}

// iamStatement is one statement. A nil list means the element is absent,
// which distinguishes Action from NotAction.
type iamStatement struct {
	Effect      string
	Action      []string
	NotAction   []string
	Resource    []string
	NotResource []string
	Condition   json.RawMessage
}

// iamStatementJSON is a statement as decoded. Its list elements are one
// string or a list of strings, decoded as any and checked by convert,
// because a custom unmarshaler per element would scan the bytes again.
type iamStatementJSON struct {
	Effect      string          `json:"Effect"`
	Action      any             `json:"Action"`
	NotAction   any             `json:"NotAction"`
	Resource    any             `json:"Resource"`
	NotResource any             `json:"NotResource"`
	Condition   json.RawMessage `json:"Condition"`
}

func (j *iamStatementJSON) convert() (iamStatement, error) {
	statement := iamStatement{Effect: j.Effect, Condition: j.Condition}
	fields := []struct {
		name  string
		value any
		out   *[]string
	}{
		{"Action", j.Action, &statement.Action},
		{"NotAction", j.NotAction, &statement.NotAction},
		{"Resource", j.Resource, &statement.Resource},
		{"NotResource", j.NotResource, &statement.NotResource},
	}
	for _, field := range fields {
		list, err := iamStringList(field.value)
		if err != nil {
			return iamStatement{}, fmt.Errorf("%s: %w", field.name, err)
		}
		*field.out = list
	}
	return statement, nil
}

// iamStringList converts a policy element written as one string or a list
// of strings. An absent element stays nil.
func iamStringList(value any) ([]string, error) {
	switch v := value.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{v}, nil
	case []any:
		list := make([]string, len(v))
		for i, item := range v {
			text, ok := item.(string)
			if !ok {
				return nil, errors.New("expected a string or a list of strings")
			}
			list[i] = text
		}
		return list, nil
	default:
		return nil, errors.New("expected a string or a list of strings")
	}
}

// parsePolicyDocument reads a policy document written as a JSON object, as
// the AWS CLI prints it, or as a URL-encoded JSON string, as the IAM API
// returns it.
func parsePolicyDocument(raw json.RawMessage) (*iamPolicyDocument, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, errors.New("missing policy document")
	}

	if raw[0] == '"' {
		decoded, err := urlDecodePolicy(raw)
		if err != nil {
			return nil, err
		}
		var doc iamPolicyDocument
		if err := json.Unmarshal(decoded, &doc); err != nil {
			return nil, fmt.Errorf("policy document is not valid JSON after URL-decoding: %w", err)
		}
		return &doc, nil
	}

	var doc iamPolicyDocument
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("invalid policy document: %w", err)
	}
	return &doc, nil
}

// urlDecodePolicy unquotes a policy document string and URL-decodes it. A
// string that already starts with { is taken as plain JSON. Path unescaping
// keeps a literal + as it is, which query unescaping would turn into a space.
func urlDecodePolicy(raw json.RawMessage) ([]byte, error) {
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		return nil, fmt.Errorf("invalid policy document string: %w", err)
	}
	if strings.HasPrefix(strings.TrimSpace(text), "{") {
		return []byte(text), nil
	}
	decoded, err := url.PathUnescape(text)
	if err != nil {
		return nil, fmt.Errorf("policy document is not valid URL encoding: %w", err)
	}
	return []byte(decoded), nil
}

// iamGrant is one action pattern that an Allow statement grants.
type iamGrant struct {
	// action is the pattern as written, for reasons; folded is it in lower
	// case, for matching, because IAM action names ignore case.
	action string
	folded string
	// notAction marks a NotAction statement: the grant is every action
	// except the folded patterns in except.
	notAction bool
	except    []string
	// anyResource is set when the statement covers every resource of the
	// actions' types.
	anyResource bool
	policy      string
}

// iamPermissions are the Allow grants and the simple Deny patterns of a set
// of policies.
type iamPermissions struct {
	grants []iamGrant
	// denies holds folded action patterns of Deny statements without a
	// Condition on Resource "*". NOTE: other Deny statements are ignored, so
	// drift can be over-reported but never hidden by a Deny that does not
	// apply.
	denies []string
}

func (p *iamPermissions) add(other *iamPermissions, label string) {
	for _, grant := range other.grants {
		if label != "" {
			grant.policy = grant.policy + " via " + label
		}
		p.grants = append(p.grants, grant)
	}
	p.denies = append(p.denies, other.denies...)
}

// compilePolicy turns a policy document into grants and denies, checking
// each statement against the IAM policy grammar.
func compilePolicy(doc *iamPolicyDocument, label string) (*iamPermissions, error) {
	if doc.Statement == nil {
		return nil, errors.New("policy document has no Statement")
	}
	perms := &iamPermissions{}
	for i, statement := range doc.Statement {
		if err := checkIAMStatement(statement); err != nil {
			return nil, fmt.Errorf("statement %d: %w", i+1, err)
		}
		if statement.Effect == "Deny" {
			perms.addDeny(statement)
			continue
		}
		perms.addAllow(statement, label)
	}
	return perms, nil
}

func checkIAMStatement(statement iamStatement) error {
	switch {
	case statement.Effect != "Allow" && statement.Effect != "Deny":
		return fmt.Errorf("invalid Effect %q: use Allow or Deny", statement.Effect)
	case (statement.Action == nil) == (statement.NotAction == nil):
		return errors.New("a statement needs exactly one of Action and NotAction")
	case (statement.Resource == nil) == (statement.NotResource == nil):
		return errors.New("a statement needs exactly one of Resource and NotResource")
	}
	return nil
}

func (p *iamPermissions) addDeny(statement iamStatement) {
	if statement.Action == nil || statement.Condition != nil || !slices.Contains(statement.Resource, "*") {
		return
	}
	for _, action := range statement.Action {
		p.denies = append(p.denies, strings.ToLower(action))
	}
}

func (p *iamPermissions) addAllow(statement iamStatement, label string) {
	anyResource := statement.NotResource != nil || slices.ContainsFunc(statement.Resource, isAnyIAMResource)
	if statement.NotAction != nil {
		except := make([]string, len(statement.NotAction))
		for i, action := range statement.NotAction {
			except[i] = strings.ToLower(action)
		}
		display := "* except " + strings.Join(statement.NotAction, ", ")
		p.grants = append(p.grants, iamGrant{action: display, folded: "*", notAction: true, except: except, anyResource: anyResource, policy: label})
		return
	}
	for _, action := range statement.Action {
		p.grants = append(p.grants, iamGrant{action: action, folded: strings.ToLower(action), anyResource: anyResource, policy: label})
	}
}

// isAnyIAMResource reports whether a Resource entry covers every resource of
// a type: "*", or an ARN whose resource part is "*", "*/*", or a resource
// type followed by ":*" or "/*", such as secret:* or parameter/*. S3 ARNs
// have no resource type, so there only "*" and "*/*" count. NotResource with
// Allow counts as every resource too.
func isAnyIAMResource(resource string) bool {
	if resource == "*" {
		return true
	}
	parts := strings.SplitN(resource, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return false
	}
	rest := parts[5]
	if rest == "*" || rest == "*/*" {
		return true
	}
	if parts[2] == "s3" {
		return false
	}
	cut := strings.IndexAny(rest, ":/")
	return cut > 0 && rest[cut+1:] == "*" && !strings.ContainsAny(rest[:cut], "*?")
}

// iamRiskProbe is one action that trips a high-risk rule when a grant covers
// it. With anyResource set, only a grant on every resource trips it.
type iamRiskProbe struct {
	rule        string
	action      string
	anyResource bool
}

// iamFoldedProbe is a probe with its action in lower case.
type iamFoldedProbe struct {
	iamRiskProbe
	folded string
}

// iamRiskProbes lists the actions behind the high-risk rules other than
// full_admin and service_wildcard, which look at the grant's pattern.
var iamRiskProbes = []iamRiskProbe{
	{"privilege_escalation", "iam:PassRole", true},
	{"privilege_escalation", "iam:CreatePolicyVersion", false},
	{"privilege_escalation", "iam:SetDefaultPolicyVersion", false},
	{"privilege_escalation", "iam:AttachRolePolicy", false},
	{"privilege_escalation", "iam:AttachUserPolicy", false},
	{"privilege_escalation", "iam:AttachGroupPolicy", false},
	{"privilege_escalation", "iam:PutRolePolicy", false},
	{"privilege_escalation", "iam:PutUserPolicy", false},
	{"privilege_escalation", "iam:PutGroupPolicy", false},
	{"privilege_escalation", "iam:UpdateAssumeRolePolicy", false},
	{"privilege_escalation", "iam:AddUserToGroup", false},
	{"secret_read", "secretsmanager:GetSecretValue", true},
	{"secret_read", "ssm:GetParameter", true},
	{"secret_read", "ssm:GetParameters", true},
	{"secret_read", "ssm:GetParametersByPath", true},
	{"secret_read", "ssm:GetParameterHistory", true},
	{"secret_read", "kms:Decrypt", true},
	{"credential_creation", "iam:CreateAccessKey", false},
	{"credential_creation", "iam:CreateLoginProfile", false},
	{"credential_creation", "iam:UpdateLoginProfile", false},
	{"acl_change", "s3:PutObjectAcl", true},
	{"acl_change", "s3:PutBucketAcl", true},
}

// assessIAMPermissions checks a principal's effective grants against its
// baseline entry and the high-risk rules. NOTE: Conditions on Allow
// statements, permissions boundaries, service control policies and
// resource policies are not evaluated, so drift can be over-reported.
func assessIAMPermissions(perms *iamPermissions, match baselineMatch, hasBaseline bool) driftFinding {
	var finding driftFinding
	grants := effectiveIAMGrants(perms)
	if hasBaseline {
		checkIAMBaseline(grants, match, &finding)
	}
	checkIAMRisks(grants, perms.denies, match, &finding)
	finding.sortRisks(awsRiskRules)
	return finding
}

// effectiveIAMGrants drops the grants that a simple Deny covers whole.
func effectiveIAMGrants(perms *iamPermissions) []iamGrant {
	if len(perms.denies) == 0 {
		return perms.grants
	}
	var kept []iamGrant
	for _, grant := range perms.grants {
		if !iamDenied(perms.denies, grant.folded) {
			kept = append(kept, grant)
		}
	}
	return kept
}

func iamDenied(denies []string, folded string) bool {
	return slices.ContainsFunc(denies, func(deny string) bool { return globCovers(deny, folded) })
}

// checkIAMBaseline lists the granted action patterns that no allowed action
// of the baseline entry covers. A NotAction grant is the pattern *, so only
// an allowed * covers it.
func checkIAMBaseline(grants []iamGrant, match baselineMatch, finding *driftFinding) {
	seen := make(map[string]bool, len(grants))
	for _, grant := range grants {
		key := grant.folded
		if grant.notAction {
			key = strings.ToLower(grant.action)
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		finding.granted++

		covered := slices.ContainsFunc(match.allowed, func(allowed string) bool { return globCovers(allowed, grant.folded) })
		if match.matched && !covered {
			finding.outside = append(finding.outside, grant.action)
		}
	}
	finding.unlisted = !match.matched
}

// checkIAMRisks applies the high-risk rules to each grant. A grant of every
// action trips full_admin, and a service:* grant on every resource trips
// service_wildcard. The probes skip both, because those rules already name
// everything such a grant allows.
func checkIAMRisks(grants []iamGrant, denies []string, match baselineMatch, finding *driftFinding) {
	for _, grant := range grants {
		switch {
		case grant.notAction:
			finding.addRisk(match, "full_admin", fmt.Sprintf("%s in %s", grant.action, grant.policy))
		case grant.folded == "*" || grant.folded == "*:*":
			finding.addRisk(match, "full_admin", fmt.Sprintf("%s in %s", grant.action, grant.policy))
		case isIAMServiceWildcard(grant.folded) && grant.anyResource:
			finding.addRisk(match, "service_wildcard", fmt.Sprintf("%s on * in %s", grant.action, grant.policy))
		default:
			probeIAMGrant(grant, denies, match, finding)
		}
	}
}

// iamFoldedProbes holds every probe in table order, and iamProbesByService
// indexes them by service prefix, so that a grant such as logs:PutLogEvents
// is checked against no probe at all.
var (
	iamFoldedProbes    = foldIAMRiskProbes()
	iamProbesByService = indexIAMRiskProbes(iamFoldedProbes)
)

func foldIAMRiskProbes() []iamFoldedProbe {
	folded := make([]iamFoldedProbe, len(iamRiskProbes))
	for i, probe := range iamRiskProbes {
		folded[i] = iamFoldedProbe{iamRiskProbe: probe, folded: strings.ToLower(probe.action)}
	}
	return folded
}

func indexIAMRiskProbes(probes []iamFoldedProbe) map[string][]iamFoldedProbe {
	index := make(map[string][]iamFoldedProbe)
	for _, probe := range probes {
		service, _, _ := strings.Cut(probe.folded, ":")
		index[service] = append(index[service], probe)
	}
	return index
}

func probeIAMGrant(grant iamGrant, denies []string, match baselineMatch, finding *driftFinding) {
	service, _, _ := strings.Cut(grant.folded, ":")
	if strings.ContainsAny(service, "*?") {
		probeIAMGrantWith(iamFoldedProbes, grant, denies, match, finding)
		return
	}
	probeIAMGrantWith(iamProbesByService[service], grant, denies, match, finding)
}

func probeIAMGrantWith(probes []iamFoldedProbe, grant iamGrant, denies []string, match baselineMatch, finding *driftFinding) {
	for _, probe := range probes {
		if probe.anyResource && !grant.anyResource {
			continue
		}
		if !globCovers(grant.folded, probe.folded) || iamDenied(denies, probe.folded) {
			continue
		}
		finding.addRisk(match, probe.rule, describeIAMEvidence(probe.iamRiskProbe, grant))
	}
}

func describeIAMEvidence(probe iamRiskProbe, grant iamGrant) string {
	evidence := probe.action
	if probe.anyResource {
		evidence += " on *"
	}
	if !strings.EqualFold(grant.action, probe.action) {
		evidence += " via " + grant.action
	}
	return evidence + " in " + grant.policy
}

// isIAMServiceWildcard reports whether a folded pattern is service:*.
func isIAMServiceWildcard(folded string) bool {
	service, action, found := strings.Cut(folded, ":")
	return found && action == "*" && service != "" && !strings.ContainsAny(service, "*?")
}
