package sources

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/secslo/secslo/slo"
)

// Principal types of the aws_iam adapter, as written in principal_types.
const (
	iamKindRole  = "role"
	iamKindUser  = "user"
	iamKindGroup = "group"
)

// iamCancelInterval is how many principals are evaluated between two checks
// of the refresh context.
const iamCancelInterval = 1024

// awsIAMOptions are the options of an aws_iam source.
type awsIAMOptions struct {
	// Baseline is the path of a baseline file. Without it only the built-in
	// high-risk rules apply.
	Baseline string `yaml:"baseline"`
	// PrincipalTypes lists the principals that count as objects: role, user,
	// group. The default is role only.
	PrincipalTypes []string `yaml:"principal_types"`
}

// awsIAM computes privilege_drift from the output of
// aws iam get-account-authorization-details.
type awsIAM struct {
	name   string
	paths  []string
	opts   awsIAMOptions
	scope  map[string]bool
	logger *slog.Logger
}

// NewAWSIAM builds an aws_iam source. Paths lists JSON files written by
// aws iam get-account-authorization-details, one per account. The baseline
// file, when set, is loaded here to reject a broken one early, and again at
// every refresh so that edits apply without a restart.
func NewAWSIAM(cfg Config, logger *slog.Logger) (Source, error) {
	var opts awsIAMOptions
	if err := DecodeOptions(cfg, &opts); err != nil {
		return nil, err
	}
	opts.Baseline = cfg.ResolvePath(opts.Baseline)
	if cfg.URL != "" {
		return nil, fmt.Errorf("source %q: url is not supported by type %s; list the export files under paths", cfg.Name, cfg.Type)
	}
	if len(cfg.Paths) == 0 {
		return nil, fmt.Errorf("source %q: missing paths; list at least one file written by aws iam get-account-authorization-details", cfg.Name)
	}

	scope, err := iamScope(opts.PrincipalTypes)
	if err != nil {
		return nil, fmt.Errorf("source %q: %w", cfg.Name, err)
	}
	if opts.Baseline != "" {
		if _, err := loadBaseline(opts.Baseline, awsRiskRules, true); err != nil {
			return nil, fmt.Errorf("source %q: options.baseline: %w", cfg.Name, err)
		}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &awsIAM{name: cfg.Name, paths: cfg.Paths, opts: opts, scope: scope, logger: logger}, nil
}

// iamScope returns the set of principal types that count as objects.
func iamScope(types []string) (map[string]bool, error) {
	if len(types) == 0 {
		return map[string]bool{iamKindRole: true}, nil
	}
	scope := make(map[string]bool)
	for _, kind := range types {
		switch {
		case kind != iamKindRole && kind != iamKindUser && kind != iamKindGroup:
			return nil, fmt.Errorf("invalid options.principal_types entry %q: use %s, %s or %s", kind, iamKindRole, iamKindUser, iamKindGroup)
		case scope[kind]:
			return nil, fmt.Errorf("options.principal_types lists %q twice: remove one", kind)
		}
		scope[kind] = true
	}
	return scope, nil
}

// Refresh reads every export and checks each principal in scope against the
// baseline and the high-risk rules. A file-level problem fails the refresh;
// a broken principal or policy is rejected, counted and logged.
func (s *awsIAM) Refresh(ctx context.Context) (*Result, error) {
	var base *baseline
	if s.opts.Baseline != "" {
		var err error
		if base, err = loadBaseline(s.opts.Baseline, awsRiskRules, true); err != nil {
			return nil, fmt.Errorf("source %q: options.baseline: %w", s.name, err)
		}
	}

	rejects := &privilegeRejects{logger: s.logger, source: s.name}
	result := &Result{}
	var outcomes []iamOutcome
	for _, path := range s.paths {
		export, err := readAuthorizationDetails(path)
		if err != nil {
			return nil, fmt.Errorf("source %q: %w", s.name, err)
		}
		records := len(export.principals) + len(export.policies)
		result.RecordsRead += records

		evaluated, err := evaluateIAMExport(ctx, export, base, s.scope, rejects)
		if err != nil {
			return nil, err
		}
		if err := rejects.checkFile(path, records); err != nil {
			return nil, fmt.Errorf("source %q: %w", s.name, err)
		}
		outcomes = append(outcomes, evaluated...)
	}

	outcomes = rejectDuplicateARNs(outcomes, rejects)
	rejects.flush()
	result.RecordsRejected = rejects.count
	fillIAMResult(result, outcomes)
	return result, nil
}

// iamOutcome is the assessment of one principal in scope.
type iamOutcome struct {
	file    string
	line    int
	kind    string
	name    string
	arn     string
	finding driftFinding
}

func fillIAMResult(result *Result, outcomes []iamOutcome) {
	snapshot := Snapshot{SLI: slo.SLIPrivilegeDrift, Objects: len(outcomes)}
	for _, outcome := range outcomes {
		if !outcome.finding.drifts() {
			continue
		}
		snapshot.Noncompliant++
		result.Noncompliant = append(result.Noncompliant, Object{
			SLI:    slo.SLIPrivilegeDrift,
			ID:     outcome.arn,
			Name:   outcome.name,
			Reason: outcome.finding.reason(),
		})
	}
	result.Snapshots = []Snapshot{snapshot}
}

// rejectDuplicateARNs rejects every principal whose ARN appears more than
// once across the files of a source, because either copy may be the stale
// one.
func rejectDuplicateARNs(outcomes []iamOutcome, rejects *privilegeRejects) []iamOutcome {
	seen := make(map[string]int, len(outcomes))
	for _, outcome := range outcomes {
		seen[outcome.arn]++
	}

	kept := outcomes[:0]
	for _, outcome := range outcomes {
		if seen[outcome.arn] == 1 {
			kept = append(kept, outcome)
			continue
		}
		rejects.reject(outcome.file, &InputError{File: outcome.file, Line: outcome.line, Err: fmt.Errorf(
			"%s %q: ARN %s appears %d times across the files of this source: neither copy is evaluated; list each account's export once", outcome.kind, outcome.name, outcome.arn, seen[outcome.arn])})
	}
	return kept
}

// iamExport is one parsed get-account-authorization-details file. Records
// keep their byte offset, so that later checks can name their line.
type iamExport struct {
	file string
	data []byte
	// newlines holds the offset of every line break, built on first use.
	newlines   []int64
	principals []iamPrincipal
	policies   []iamManagedPolicy
}

// iamPrincipal is one entry of RoleDetailList, UserDetailList or
// GroupDetailList.
type iamPrincipal struct {
	kind   string
	list   string
	index  int
	offset int64
	// decodeErr is set when the entry had a field of the wrong type.
	decodeErr error
	iamPrincipalJSON
}

// iamPrincipalJSON holds the fields of all three principal lists. Fields
// that the adapter does not use, such as Tags, are ignored, because AWS adds
// fields over time.
type iamPrincipalJSON struct {
	RoleName                string              `json:"RoleName"`
	UserName                string              `json:"UserName"`
	GroupName               string              `json:"GroupName"`
	Arn                     string              `json:"Arn"`
	RolePolicyList          []iamInlinePolicy   `json:"RolePolicyList"`
	UserPolicyList          []iamInlinePolicy   `json:"UserPolicyList"`
	GroupPolicyList         []iamInlinePolicy   `json:"GroupPolicyList"`
	AttachedManagedPolicies []iamAttachedPolicy `json:"AttachedManagedPolicies"`
	GroupList               []string            `json:"GroupList"`
}

type iamInlinePolicy struct {
	PolicyName     string            `json:"PolicyName"`
	PolicyDocument iamInlineDocument `json:"PolicyDocument"`
}

// iamInlineDocument is an inline policy document, parsed while its record
// is decoded so that its bytes are not copied and scanned once more. A
// parse error is kept on the field and reported with the principal, so
// that the rest of the record still decodes.
type iamInlineDocument struct {
	doc *iamPolicyDocument
	err error
}

func (d *iamInlineDocument) UnmarshalJSON(data []byte) error {
	d.doc, d.err = parsePolicyDocument(data)
	return nil
}

type iamAttachedPolicy struct {
	PolicyName string `json:"PolicyName"`
	PolicyArn  string `json:"PolicyArn"`
}

// iamManagedPolicy is one entry of Policies.
type iamManagedPolicy struct {
	index     int
	offset    int64
	decodeErr error
	iamManagedPolicyJSON
}

type iamManagedPolicyJSON struct {
	PolicyName        string             `json:"PolicyName"`
	Arn               string             `json:"Arn"`
	DefaultVersionID  string             `json:"DefaultVersionId"`
	PolicyVersionList []iamPolicyVersion `json:"PolicyVersionList"`
}

type iamPolicyVersion struct {
	Document         json.RawMessage `json:"Document"`
	VersionID        string          `json:"VersionId"`
	IsDefaultVersion bool            `json:"IsDefaultVersion"`
}

func (p *iamPrincipal) name() string {
	switch p.kind {
	case iamKindRole:
		return p.RoleName
	case iamKindUser:
		return p.UserName
	default:
		return p.GroupName
	}
}

func (p *iamPrincipal) inlinePolicies() []iamInlinePolicy {
	switch p.kind {
	case iamKindRole:
		return p.RolePolicyList
	case iamKindUser:
		return p.UserPolicyList
	default:
		return p.GroupPolicyList
	}
}

// position returns the record's line and column for an InputError.
func (e *iamExport) position(offset int64) *InputError {
	line, column := e.lineColumn(offset)
	return &InputError{File: e.file, Line: line, Column: column}
}

// lineColumn converts a byte offset to a 1-based line and column. It indexes
// the line breaks once per file, because counting them for every record
// would take time quadratic in the file size.
func (e *iamExport) lineColumn(offset int64) (line, column int) {
	if e.newlines == nil {
		e.newlines = make([]int64, 0, bytes.Count(e.data, []byte{'\n'}))
		for i, b := range e.data {
			if b == '\n' {
				e.newlines = append(e.newlines, int64(i))
			}
		}
	}
	before, _ := slices.BinarySearch(e.newlines, offset)
	if before == 0 {
		return 1, int(offset) + 1
	}
	return before + 1, int(offset - e.newlines[before-1])
}

// readAuthorizationDetails reads and parses one export file.
func readAuthorizationDetails(path string) (*iamExport, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read IAM export: %w", err)
	}
	return parseAuthorizationDetails(path, data)
}

// iamLists maps the keys of the export that hold records to the principal
// type of their entries; Policies holds managed policies instead.
var iamLists = map[string]string{
	"RoleDetailList":  iamKindRole,
	"UserDetailList":  iamKindUser,
	"GroupDetailList": iamKindGroup,
	"Policies":        "",
}

// parseAuthorizationDetails parses the JSON of
// aws iam get-account-authorization-details. It streams the top-level object,
// so that each record keeps its offset. A syntax error, a truncated file or a
// list of the wrong type fails the whole file. A record with a field of the
// wrong type is kept with decodeErr set, to be rejected alone.
func parseAuthorizationDetails(file string, data []byte) (*iamExport, error) {
	data = bytes.TrimPrefix(data, privilegeBOM)
	export := &iamExport{file: file, data: data}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &InputError{File: file, Err: errors.New("file is empty: expected the JSON output of aws iam get-account-authorization-details")}
	}

	dec := json.NewDecoder(bytes.NewReader(data))
	if err := export.expectDelim(dec, '{', "the top level", "the JSON output of aws iam get-account-authorization-details"); err != nil {
		return nil, err
	}

	seen := make(map[string]bool)
	for dec.More() {
		if err := export.parseMember(dec, seen); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, export.syntaxError(dec, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, export.atOffset(dec.InputOffset(), errors.New("unexpected data after the top-level JSON object: keep one export per file"))
	}
	return export, nil
}

// parseMember parses one key of the top-level object and its value.
func (e *iamExport) parseMember(dec *json.Decoder, seen map[string]bool) error {
	offset := dec.InputOffset()
	token, err := dec.Token()
	if err != nil {
		return e.syntaxError(dec, err)
	}
	key, _ := token.(string)
	if seen[key] {
		return e.atOffset(offset, fmt.Errorf("duplicate key %q in the top-level object: keep one", key))
	}
	seen[key] = true

	kind, isList := iamLists[key]
	switch {
	case isList:
		return e.parseList(dec, key, kind)
	case key == "IsTruncated":
		return e.checkTruncated(dec)
	default:
		var skipped json.RawMessage
		if err := dec.Decode(&skipped); err != nil {
			return e.syntaxError(dec, err)
		}
		return nil
	}
}

// checkTruncated fails on IsTruncated: true, which the API sets on one page
// of a paginated response, because the export is then incomplete.
func (e *iamExport) checkTruncated(dec *json.Decoder) error {
	offset := dec.InputOffset()
	var truncated bool
	if err := dec.Decode(&truncated); err != nil {
		return e.decodeError(dec, offset, "IsTruncated", err)
	}
	if truncated {
		return e.atOffset(offset, errors.New("IsTruncated is true, so this file holds one page of a paginated export: run the AWS CLI without --max-items, which fetches every page"))
	}
	return nil
}

func (e *iamExport) parseList(dec *json.Decoder, key, kind string) error {
	if err := e.expectDelim(dec, '[', key, "a JSON array"); err != nil {
		return err
	}
	for index := 0; dec.More(); index++ {
		offset := e.skipSeparators(dec.InputOffset())
		if err := e.parseRecord(dec, key, kind, index, offset); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return e.syntaxError(dec, err)
	}
	return nil
}

// parseRecord decodes one list entry. A type error inside the entry is kept
// on the record; the decoder has read the whole entry by then.
func (e *iamExport) parseRecord(dec *json.Decoder, key, kind string, index int, offset int64) error {
	var target any
	var keep func(error)
	if key == "Policies" {
		policy := iamManagedPolicy{index: index, offset: offset}
		target = &policy.iamManagedPolicyJSON
		keep = func(err error) { policy.decodeErr = err; e.policies = append(e.policies, policy) }
	} else {
		principal := iamPrincipal{kind: kind, list: key, index: index, offset: offset}
		target = &principal.iamPrincipalJSON
		keep = func(err error) { principal.decodeErr = err; e.principals = append(e.principals, principal) }
	}

	err := dec.Decode(target)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		keep(nil)
	case errors.As(err, &typeErr):
		keep(describeJSONTypeError(typeErr))
	default:
		return e.syntaxError(dec, err)
	}
	return nil
}

// expectDelim reads one token and fails unless it is the delimiter want.
func (e *iamExport) expectDelim(dec *json.Decoder, want json.Delim, where, expected string) error {
	offset := e.skipSeparators(dec.InputOffset())
	token, err := dec.Token()
	if err != nil {
		return e.syntaxError(dec, err)
	}
	if token != want {
		return e.atOffset(offset, fmt.Errorf("%s must be %s, found %s", where, expected, describeJSONToken(token)))
	}
	return nil
}

// skipSeparators moves an offset past white space, commas and colons, to the
// first byte of the next value.
func (e *iamExport) skipSeparators(offset int64) int64 {
	for offset < int64(len(e.data)) && strings.IndexByte(" \t\r\n,:", e.data[offset]) >= 0 {
		offset++
	}
	return offset
}

func (e *iamExport) atOffset(offset int64, err error) error {
	position := e.position(offset)
	position.Err = err
	return position
}

// syntaxError turns a decoder error into a file-level InputError.
func (e *iamExport) syntaxError(dec *json.Decoder, err error) error {
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return e.atOffset(syntax.Offset, fmt.Errorf("invalid JSON: %w", err))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return e.atOffset(int64(len(e.data)), errors.New("truncated JSON: the file ends inside a value; export it again and check that the write finished"))
	default:
		return e.atOffset(dec.InputOffset(), fmt.Errorf("invalid JSON: %w", err))
	}
}

func (e *iamExport) decodeError(dec *json.Decoder, offset int64, field string, err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return e.atOffset(offset, fmt.Errorf("%s: %w", field, describeJSONTypeError(typeErr)))
	}
	return e.syntaxError(dec, err)
}

// describeJSONTypeError words a type error in JSON terms instead of Go ones.
func describeJSONTypeError(err *json.UnmarshalTypeError) error {
	field := err.Field
	if field == "" {
		field = "value"
	}
	return fmt.Errorf("field %s is a JSON %s, expected %s", field, err.Value, describeJSONType(err.Type))
}

func describeJSONType(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a JSON value"
		}
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	default:
		return "a number"
	}
}

// iamCompiled is a managed policy or a group after compilation: its
// permissions, or the reason it was rejected.
type iamCompiled struct {
	perms *iamPermissions
	err   error
}

// evaluateIAMExport compiles every policy and principal of one export and
// assesses the principals in scope. Groups are compiled first because users
// inherit their permissions.
func evaluateIAMExport(ctx context.Context, e *iamExport, base *baseline, scope map[string]bool, rejects *privilegeRejects) ([]iamOutcome, error) {
	policies := e.compileManagedPolicies(rejects)
	duplicates := e.principalLines()

	groups := make(map[string]*iamCompiled)
	for i := range e.principals {
		principal := &e.principals[i]
		if principal.kind == iamKindGroup {
			perms, err := e.compilePrincipal(principal, policies, nil, duplicates)
			groups[principal.GroupName] = &iamCompiled{perms: perms, err: err}
		}
	}

	var outcomes []iamOutcome
	for i := range e.principals {
		if i%iamCancelInterval == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		principal := &e.principals[i]
		perms, err := e.principalPermissions(principal, policies, groups, duplicates)
		if err != nil {
			rejects.reject(e.file, e.atOffset(principal.offset, err))
			continue
		}
		if scope[principal.kind] {
			outcomes = append(outcomes, e.assess(principal, perms, base))
		}
	}
	return outcomes, nil
}

// principalPermissions returns a group's permissions from the groups
// compiled before, and compiles roles and users.
func (e *iamExport) principalPermissions(p *iamPrincipal, policies, groups map[string]*iamCompiled, duplicates map[string][]int) (*iamPermissions, error) {
	if p.kind == iamKindGroup && p.decodeErr == nil && len(duplicates[iamPrincipalKey(p)]) == 1 {
		if compiled := groups[p.GroupName]; compiled != nil {
			return compiled.perms, compiled.err
		}
	}
	return e.compilePrincipal(p, policies, groups, duplicates)
}

func (e *iamExport) assess(p *iamPrincipal, perms *iamPermissions, base *baseline) iamOutcome {
	line, _ := e.lineColumn(p.offset)
	outcome := iamOutcome{file: e.file, line: line, kind: p.kind, name: p.name(), arn: p.Arn}

	var match baselineMatch
	if base != nil {
		match = base.lookup(p.Arn, p.name())
	}
	outcome.finding = assessIAMPermissions(perms, match, base != nil)
	return outcome
}

// iamPrincipalKey identifies a principal within one export.
func iamPrincipalKey(p *iamPrincipal) string {
	return p.kind + "/" + p.name()
}

// principalLines returns the lines of every principal by type and name, so
// that a name listed twice can be reported with both lines.
func (e *iamExport) principalLines() map[string][]int {
	lines := make(map[string][]int, len(e.principals))
	for i := range e.principals {
		p := &e.principals[i]
		if p.name() == "" {
			continue
		}
		line, _ := e.lineColumn(p.offset)
		lines[iamPrincipalKey(p)] = append(lines[iamPrincipalKey(p)], line)
	}
	return lines
}

// compilePrincipal collects the permissions of one principal: its inline
// policies, its attached managed policies and, for a user, those of its
// groups.
func (e *iamExport) compilePrincipal(p *iamPrincipal, policies, groups map[string]*iamCompiled, duplicates map[string][]int) (*iamPermissions, error) {
	if err := checkIAMPrincipal(p, duplicates); err != nil {
		return nil, err
	}

	perms := &iamPermissions{}
	for _, inline := range p.inlinePolicies() {
		compiled, err := compileInlinePolicy(inline)
		if err != nil {
			return nil, fmt.Errorf("%s %q: inline policy %q: %w", p.kind, p.name(), inline.PolicyName, err)
		}
		perms.add(compiled, "")
	}
	for _, attached := range p.AttachedManagedPolicies {
		compiled, err := resolveAttachedPolicy(attached, policies)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", p.kind, p.name(), err)
		}
		perms.add(compiled, "")
	}
	if p.kind != iamKindUser {
		return perms, nil
	}

	for _, group := range p.GroupList {
		compiled := groups[group]
		switch {
		case compiled == nil:
			return nil, fmt.Errorf("user %q: group %q is not in GroupDetailList: export without --filter, or add Group to it", p.name(), group)
		case compiled.err != nil:
			return nil, fmt.Errorf("user %q: group %q was rejected, so the user's permissions are unknown", p.name(), group)
		}
		perms.add(compiled.perms, "group "+group)
	}
	return perms, nil
}

// iamNameKeys names the key that holds a principal's name in each list.
var iamNameKeys = map[string]string{iamKindRole: "RoleName", iamKindUser: "UserName", iamKindGroup: "GroupName"}

func checkIAMPrincipal(p *iamPrincipal, duplicates map[string][]int) error {
	switch {
	case p.decodeErr != nil:
		return fmt.Errorf("%s item %d: %w", p.list, p.index+1, p.decodeErr)
	case p.name() == "":
		return fmt.Errorf("%s item %d: missing %s", p.list, p.index+1, iamNameKeys[p.kind])
	case p.Arn == "":
		return fmt.Errorf("%s %q: missing Arn", p.kind, p.name())
	}
	if lines := duplicates[iamPrincipalKey(p)]; len(lines) > 1 {
		return fmt.Errorf("duplicate %s name %q on lines %s: no copy is evaluated, because either may be stale; export the account again", p.kind, p.name(), joinInts(lines))
	}
	return nil
}

func joinInts(values []int) string {
	words := make([]string, len(values))
	for i, v := range values {
		words[i] = fmt.Sprint(v)
	}
	return strings.Join(words, ", ")
}

func compileInlinePolicy(inline iamInlinePolicy) (*iamPermissions, error) {
	document := inline.PolicyDocument
	switch {
	case document.err != nil:
		return nil, document.err
	case document.doc == nil:
		return nil, errors.New("missing policy document")
	}
	return compilePolicy(document.doc, inline.PolicyName+" (inline)")
}

func resolveAttachedPolicy(attached iamAttachedPolicy, policies map[string]*iamCompiled) (*iamPermissions, error) {
	compiled := policies[attached.PolicyArn]
	switch {
	case attached.PolicyArn == "":
		return nil, fmt.Errorf("attached managed policy %q has no PolicyArn", attached.PolicyName)
	case compiled == nil:
		return nil, fmt.Errorf("attached managed policy %s is not in Policies: export without --filter, or add LocalManagedPolicy and AWSManagedPolicy to it", attached.PolicyArn)
	case compiled.err != nil:
		return nil, fmt.Errorf("attached managed policy %s was rejected, so the permissions are unknown", attached.PolicyArn)
	}
	return compiled.perms, nil
}

// compileManagedPolicies compiles the default version of every managed
// policy, keyed by ARN. A rejected policy stays in the map with its error,
// so that the principals attaching it are rejected too.
func (e *iamExport) compileManagedPolicies(rejects *privilegeRejects) map[string]*iamCompiled {
	arnCount := make(map[string]int, len(e.policies))
	for _, policy := range e.policies {
		arnCount[policy.Arn]++
	}

	compiled := make(map[string]*iamCompiled, len(e.policies))
	for _, policy := range e.policies {
		perms, err := compileManagedPolicy(policy, arnCount[policy.Arn])
		if err != nil {
			rejects.reject(e.file, e.atOffset(policy.offset, fmt.Errorf("Policies item %d: %w", policy.index+1, err)))
		}
		if compiled[policy.Arn] == nil || err != nil {
			compiled[policy.Arn] = &iamCompiled{perms: perms, err: err}
		}
	}
	return compiled
}

func compileManagedPolicy(policy iamManagedPolicy, arnCount int) (*iamPermissions, error) {
	switch {
	case policy.decodeErr != nil:
		return nil, policy.decodeErr
	case policy.Arn == "":
		return nil, fmt.Errorf("policy %q: missing Arn", policy.PolicyName)
	case arnCount > 1:
		return nil, fmt.Errorf("policy %s is listed %d times: no copy is evaluated, because either may be stale; export the account again", policy.Arn, arnCount)
	}

	version, err := defaultPolicyVersion(policy)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", policy.Arn, err)
	}
	doc, err := parsePolicyDocument(version.Document)
	if err != nil {
		return nil, fmt.Errorf("policy %s version %s: %w", policy.Arn, version.VersionID, err)
	}
	perms, err := compilePolicy(doc, policy.PolicyName)
	if err != nil {
		return nil, fmt.Errorf("policy %s version %s: %w", policy.Arn, version.VersionID, err)
	}
	return perms, nil
}

// defaultPolicyVersion returns the version marked IsDefaultVersion, or the
// one named by DefaultVersionId when no version is marked.
func defaultPolicyVersion(policy iamManagedPolicy) (iamPolicyVersion, error) {
	var marked []iamPolicyVersion
	for _, version := range policy.PolicyVersionList {
		if version.IsDefaultVersion {
			marked = append(marked, version)
		}
	}
	switch len(marked) {
	case 1:
		return marked[0], nil
	case 0:
	default:
		return iamPolicyVersion{}, fmt.Errorf("%d versions have IsDefaultVersion true: export the policy again", len(marked))
	}

	for _, version := range policy.PolicyVersionList {
		if version.VersionID != "" && version.VersionID == policy.DefaultVersionID {
			return version, nil
		}
	}
	return iamPolicyVersion{}, errors.New("no version in PolicyVersionList is the default: export without --filter so that the default version is included")
}
