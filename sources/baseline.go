package sources

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// This file holds what the privilege_drift adapters share: the baseline
// file, the ids of the built-in high-risk rules, glob matching of actions and
// principals, and the wording of a drift reason.

// riskRule is one built-in high-risk rule. A principal that trips it drifts
// unless a baseline entry accepts the rule for that principal.
type riskRule struct {
	ID      string
	Summary string
}

// Built-in high-risk rules of the aws_iam adapter.
var awsRiskRules = []riskRule{
	{"full_admin", "the * action, or NotAction with Allow, which grants every action that is not listed"},
	{"service_wildcard", "service:* on every resource"},
	{"privilege_escalation", "IAM actions that let a principal raise its own permissions, such as iam:PassRole on every resource or iam:AttachRolePolicy"},
	{"secret_read", "reading secrets on every resource: secretsmanager:GetSecretValue, ssm:GetParameter*, kms:Decrypt"},
	{"credential_creation", "creating or resetting IAM credentials: iam:CreateAccessKey, iam:CreateLoginProfile, iam:UpdateLoginProfile"},
	{"acl_change", "changing S3 object or bucket ACLs on every resource"},
}

// Built-in high-risk rules of the kubernetes_rbac adapter.
var rbacRiskRules = []riskRule{
	{"wildcard", "* in verbs, resources or non-resource URLs"},
	{"secret_read", "get, list or watch on secrets without resourceNames"},
	{"escalation_verbs", "escalate or bind on roles, impersonate on users, groups or service accounts"},
	{"pod_exec", "pods/exec or pods/attach"},
	{"cluster_admin_binding", "a binding of the cluster-admin ClusterRole to a subject other than the system:masters group"},
}

// baselineFile is the YAML layout of a baseline file.
type baselineFile struct {
	Principals []baselineEntry `yaml:"principals"`
}

// baselineEntry sets, for the principals that Principal matches, the actions
// they may hold and the high-risk rules accepted for them.
type baselineEntry struct {
	Principal      string         `yaml:"principal"`
	AllowedActions []string       `yaml:"allowed_actions"`
	AcceptedRisks  []acceptedRisk `yaml:"accepted_risks"`

	// starOnly is set when Principal has no ? wildcard, so that lookup can
	// take the fast path of starGlobMatch.
	starOnly bool
}

// acceptedRisk is a high-risk rule that a baseline entry accepts, with the
// reason a reviewer gave.
type acceptedRisk struct {
	Rule   string `yaml:"rule"`
	Reason string `yaml:"reason"`
}

// baseline is a loaded baseline file, indexed for lookups by principal.
type baseline struct {
	path    string
	entries []baselineEntry
	// exact indexes the entries whose pattern has no wildcard; globs lists
	// the others, scanned in file order.
	exact map[string][]int
	globs []int
}

// baselineMatch is the union of every baseline entry that matches one
// principal.
type baselineMatch struct {
	matched  bool
	allowed  []string
	accepted map[string]bool
}

// loadBaseline reads and validates a baseline file. Decoding is strict, so
// an unknown key is an error with its line. Every problem that validation
// finds is reported at once. When foldCase is true the allowed actions are
// compared in lower case, as IAM compares action names.
func loadBaseline(path string, rules []riskRule, foldCase bool) (*baseline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read baseline file: %w", err)
	}
	data = bytes.TrimPrefix(data, privilegeBOM)
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &InputError{File: path, Err: errors.New("baseline file is empty: list principals under the principals key, or remove the baseline option to check only the high-risk rules")}
	}

	var file baselineFile
	var root yaml.Node
	if err := decodeBaselineYAML(data, &file, &root); err != nil {
		return nil, &InputError{File: path, Err: fmt.Errorf("invalid baseline: %w", err)}
	}

	lines := baselineEntryLines(&root)
	if err := validateBaseline(path, file.Principals, lines, rules); err != nil {
		return nil, err
	}

	b := &baseline{path: path, entries: file.Principals, exact: make(map[string][]int)}
	for i := range b.entries {
		b.prepareEntry(i, foldCase)
	}
	return b, nil
}

// privilegeBOM is the UTF-8 byte-order mark that some editors and
// PowerShell write at the start of a file.
var privilegeBOM = []byte("\xef\xbb\xbf")

// decodeBaselineYAML decodes the one document of a baseline file twice:
// strictly into file, and into root for the line of each entry.
func decodeBaselineYAML(data []byte, file *baselineFile, root *yaml.Node) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(file); err != nil {
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("a baseline file contains one YAML document: remove the second document or the --- separator")
	}
	return yaml.Unmarshal(data, root)
}

// baselineEntryLines returns the line of each item under the principals key.
func baselineEntryLines(root *yaml.Node) []int {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil
	}
	mapping := root.Content[0]
	for i := 0; i+1 < len(mapping.Content); i += 2 {
		if mapping.Content[i].Value != "principals" {
			continue
		}
		var lines []int
		for _, item := range mapping.Content[i+1].Content {
			lines = append(lines, item.Line)
		}
		return lines
	}
	return nil
}

// validateBaseline checks every entry and joins all problems, each with the
// file and line of its entry.
func validateBaseline(path string, entries []baselineEntry, lines []int, rules []riskRule) error {
	if len(entries) == 0 {
		return &InputError{File: path, Err: errors.New("baseline lists no principals: add entries under the principals key")}
	}

	var problems []error
	firstLine := make(map[string]int)
	for i, entry := range entries {
		line := 0
		if i < len(lines) {
			line = lines[i]
		}
		for _, problem := range checkBaselineEntry(entry, rules) {
			problems = append(problems, &InputError{File: path, Line: line, Err: problem})
		}
		if earlier, seen := firstLine[entry.Principal]; seen && entry.Principal != "" {
			problems = append(problems, &InputError{File: path, Line: line, Err: fmt.Errorf("duplicate principal %q, first listed on line %d: merge the two entries", entry.Principal, earlier)})
			continue
		}
		firstLine[entry.Principal] = line
	}
	return errors.Join(problems...)
}

func checkBaselineEntry(entry baselineEntry, rules []riskRule) []error {
	var problems []error
	if strings.TrimSpace(entry.Principal) == "" {
		problems = append(problems, errors.New("missing principal: set it to a name, an ARN or a glob such as arn:aws:iam::*:role/app-*"))
	}
	for _, action := range entry.AllowedActions {
		if strings.TrimSpace(action) == "" {
			problems = append(problems, fmt.Errorf("principal %q: empty allowed action: remove it or write an action such as s3:GetObject", entry.Principal))
		}
	}

	seen := make(map[string]bool)
	for _, risk := range entry.AcceptedRisks {
		switch {
		case !slices.ContainsFunc(rules, func(r riskRule) bool { return r.ID == risk.Rule }):
			problems = append(problems, fmt.Errorf("principal %q: unknown high-risk rule %q: expected one of %s", entry.Principal, risk.Rule, strings.Join(riskRuleIDs(rules), ", ")))
		case seen[risk.Rule]:
			problems = append(problems, fmt.Errorf("principal %q: high-risk rule %q accepted twice: remove one", entry.Principal, risk.Rule))
		case strings.TrimSpace(risk.Reason) == "":
			problems = append(problems, fmt.Errorf("principal %q: accepted high-risk rule %q has no reason: say why this principal needs it", entry.Principal, risk.Rule))
		}
		seen[risk.Rule] = true
	}
	return problems
}

func riskRuleIDs(rules []riskRule) []string {
	ids := make([]string, len(rules))
	for i, r := range rules {
		ids[i] = r.ID
	}
	return ids
}

func (b *baseline) prepareEntry(i int, foldCase bool) {
	entry := &b.entries[i]
	if foldCase {
		for j, action := range entry.AllowedActions {
			entry.AllowedActions[j] = strings.ToLower(action)
		}
	}
	if strings.ContainsAny(entry.Principal, "*?") {
		entry.starOnly = !strings.Contains(entry.Principal, "?")
		b.globs = append(b.globs, i)
		return
	}
	b.exact[entry.Principal] = append(b.exact[entry.Principal], i)
}

// lookup returns the union of every entry whose pattern matches the
// principal's id or its name.
func (b *baseline) lookup(id, name string) baselineMatch {
	var match baselineMatch
	add := func(i int) {
		entry := b.entries[i]
		match.matched = true
		match.allowed = append(match.allowed, entry.AllowedActions...)
		for _, risk := range entry.AcceptedRisks {
			if match.accepted == nil {
				match.accepted = make(map[string]bool)
			}
			match.accepted[risk.Rule] = true
		}
	}

	for _, i := range b.exact[id] {
		add(i)
	}
	if name != id {
		for _, i := range b.exact[name] {
			add(i)
		}
	}
	plain := !strings.ContainsAny(id, "*?") && !strings.ContainsAny(name, "*?")
	for _, i := range b.globs {
		entry := &b.entries[i]
		if plain && entry.starOnly {
			if starGlobMatch(entry.Principal, id) || starGlobMatch(entry.Principal, name) {
				add(i)
			}
			continue
		}
		if globCovers(entry.Principal, id) || globCovers(entry.Principal, name) {
			add(i)
		}
	}
	return match
}

// globCovers reports whether every string that text matches is also matched
// by pattern. In both, * matches any run of characters and ? matches one. A
// text without wildcards is a plain string, so this is also an ordinary glob
// match. The test is sound but not complete: when it returns true the cover
// holds, and a rare pair of patterns that does cover text may still return
// false, which reports drift that a reviewer can clear in the baseline.
// Matching is byte-wise, which fits the ASCII names of IAM and Kubernetes.
func globCovers(pattern, text string) bool {
	if !strings.ContainsAny(text, "*?") && !strings.Contains(pattern, "?") {
		return starGlobMatch(pattern, text)
	}
	return globCoversGeneral(pattern, text)
}

// globCoversGeneral is globCovers for any pattern and text, by backtracking
// to the last * on a mismatch.
func globCoversGeneral(pattern, text string) bool {
	p, t := 0, 0
	star, starText := -1, 0
	for t < len(text) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, starText = p, t
			p++
		case p < len(pattern) && globCharCovers(pattern[p], text[t]):
			p++
			t++
		case star >= 0:
			starText++
			p, t = star+1, starText
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// starGlobMatch matches a pattern whose only wildcard is * against a plain
// text. The first segment is anchored at the start and the last at the end,
// and the middle ones are found leftmost, which is exact for * alone.
func starGlobMatch(pattern, text string) bool {
	first, rest, found := strings.Cut(pattern, "*")
	if !found {
		return pattern == text
	}
	if !strings.HasPrefix(text, first) {
		return false
	}
	text = text[len(first):]

	for {
		segment, after, more := strings.Cut(rest, "*")
		if !more {
			return strings.HasSuffix(text, segment)
		}
		i := strings.Index(text, segment)
		if i < 0 {
			return false
		}
		text, rest = text[i+len(segment):], after
	}
}

// globCharCovers reports whether one pattern character covers one text
// character: ? covers anything but the run wildcard *, and a literal covers
// only itself.
func globCharCovers(p, t byte) bool {
	if p == '?' {
		return t != '*'
	}
	return p == t && t != '*' && t != '?'
}

// riskHit is a high-risk rule that a principal trips, with the grants that
// trip it.
type riskHit struct {
	rule     string
	evidence []string
}

// driftFinding collects why one principal drifts. An empty finding means the
// principal is within its baseline.
type driftFinding struct {
	// unlisted is set when a baseline exists and no entry matches the principal.
	unlisted bool
	granted  int
	outside  []string
	risks    []riskHit
	// subjects are the users, groups and service accounts bound to a
	// Kubernetes role, listed in the reason only.
	subjects []string
}

// driftMaxListed caps each list in a drift reason, so a reason stays
// readable for a principal with hundreds of actions.
const driftMaxListed = 8

func (f *driftFinding) drifts() bool {
	return f.unlisted || len(f.outside) > 0 || len(f.risks) > 0
}

// addRisk records evidence for rule unless the baseline accepts the rule.
func (f *driftFinding) addRisk(match baselineMatch, rule, evidence string) {
	if match.accepted[rule] {
		return
	}
	for i := range f.risks {
		if f.risks[i].rule == rule {
			if !slices.Contains(f.risks[i].evidence, evidence) {
				f.risks[i].evidence = append(f.risks[i].evidence, evidence)
			}
			return
		}
	}
	f.risks = append(f.risks, riskHit{rule: rule, evidence: []string{evidence}})
}

func pluralActions(n int) string {
	if n == 1 {
		return "1 action"
	}
	return fmt.Sprintf("%d actions", n)
}

// reason renders the finding as one line for the triage endpoint.
func (f *driftFinding) reason() string {
	var parts []string
	if f.unlisted {
		parts = append(parts, fmt.Sprintf("no baseline entry matches this principal, which is granted %s", pluralActions(f.granted)))
	}
	if len(f.outside) > 0 {
		parts = append(parts, "actions outside the baseline: "+driftListCapped(f.outside))
	}
	if len(f.risks) > 0 {
		hits := make([]string, len(f.risks))
		for i, hit := range f.risks {
			hits[i] = fmt.Sprintf("%s (%s)", hit.rule, driftListCapped(hit.evidence))
		}
		parts = append(parts, "high-risk rules: "+strings.Join(hits, ", "))
	}
	if len(f.subjects) > 0 {
		parts = append(parts, "bound to "+driftListCapped(f.subjects))
	}
	return strings.Join(parts, "; ")
}

func driftListCapped(items []string) string {
	if len(items) <= driftMaxListed {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:driftMaxListed], ", "), len(items)-driftMaxListed)
}

// privilegeMaxLoggedRejects caps the rejected records logged per file in one
// refresh. The rest are counted in one summary line, so a broken export of
// 10,000 roles does not flood the log.
const privilegeMaxLoggedRejects = 10

// privilegeRejects counts and logs the records rejected in one refresh.
type privilegeRejects struct {
	logger *slog.Logger
	source string
	count  int
	// perFile counts the rejections of each file, and first keeps the first
	// error of each, for the error of a file whose every record is rejected.
	perFile map[string]int
	first   map[string]error
}

func (r *privilegeRejects) reject(file string, err error) {
	if r.perFile == nil {
		r.perFile, r.first = make(map[string]int), make(map[string]error)
	}
	r.count++
	r.perFile[file]++
	if r.first[file] == nil {
		r.first[file] = err
	}
	if r.perFile[file] > privilegeMaxLoggedRejects {
		return
	}

	attrs := []any{"file", file}
	var inputErr *InputError
	if errors.As(err, &inputErr) && inputErr.Line > 0 {
		attrs = append(attrs, "line", inputErr.Line)
	}
	r.logger.Warn("rejected record", append(attrs, "err", err)...)
}

// checkFile fails a file whose records were all rejected, because such a
// file is most likely in a format the adapter does not read.
func (r *privilegeRejects) checkFile(file string, records int) error {
	if records == 0 || r.perFile[file] < records {
		return nil
	}
	return &InputError{File: file, Err: fmt.Errorf("all %d records were rejected, so the file is not in a format this source reads; first problem: %w", records, r.first[file])}
}

// flush logs, per file, how many rejections were counted but not logged.
func (r *privilegeRejects) flush() {
	files := make([]string, 0, len(r.perFile))
	for file := range r.perFile {
		files = append(files, file)
	}
	slices.Sort(files)
	for _, file := range files {
		if count := r.perFile[file]; count > privilegeMaxLoggedRejects {
			r.logger.Warn("more records rejected than logged", "file", file, "rejected", count, "not_logged", count-privilegeMaxLoggedRejects)
		}
	}
}

// sortRisks orders the tripped rules as rules lists them, so that a reason
// reads the same at every refresh.
func (f *driftFinding) sortRisks(rules []riskRule) {
	order := make(map[string]int, len(rules))
	for i, rule := range rules {
		order[rule.ID] = i
	}
	slices.SortStableFunc(f.risks, func(a, b riskHit) int { return order[a.rule] - order[b.rule] })
}
