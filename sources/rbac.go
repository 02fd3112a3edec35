package sources

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/secslo/secslo/slo"
	"go.yaml.in/yaml/v3"
)

// rbacAPIGroup is the API group of Role, ClusterRole and their bindings.
const rbacAPIGroup = "rbac.authorization.k8s.io"

// Kinds that the kubernetes_rbac adapter reads.
const (
	rbacKindRole               = "Role"
	rbacKindClusterRole        = "ClusterRole"
	rbacKindRoleBinding        = "RoleBinding"
	rbacKindClusterRoleBinding = "ClusterRoleBinding"
)

// rbacClusterAdmin is the built-in ClusterRole that grants every permission.
const rbacClusterAdmin = "cluster-admin"

// kubernetesRBACOptions are the options of a kubernetes_rbac source.
type kubernetesRBACOptions struct {
	// Baseline is the path of a baseline file. Without it only the built-in
	// high-risk rules apply.
	Baseline string `yaml:"baseline"`
}

// kubernetesRBAC computes privilege_drift over the Roles and ClusterRoles of
// Kubernetes manifests or kubectl dumps.
type kubernetesRBAC struct {
	name   string
	paths  []string
	opts   kubernetesRBACOptions
	logger *slog.Logger
}

// NewKubernetesRBAC builds a kubernetes_rbac source. Paths lists YAML files,
// each with one or more documents, or JSON List dumps such as the output of
// kubectl get roles,clusterroles,rolebindings,clusterrolebindings -A -o json.
// The baseline file, when set, is loaded here to reject a broken one early,
// and again at every refresh.
func NewKubernetesRBAC(cfg Config, logger *slog.Logger) (Source, error) {
	var opts kubernetesRBACOptions
	if err := DecodeOptions(cfg, &opts); err != nil {
		return nil, err
	}
	opts.Baseline = cfg.ResolvePath(opts.Baseline)
	if cfg.URL != "" {
		return nil, fmt.Errorf("source %q: url is not supported by type %s; list the manifest or dump files under paths", cfg.Name, cfg.Type)
	}
	if len(cfg.Paths) == 0 {
		return nil, fmt.Errorf("source %q: missing paths; list at least one YAML manifest or kubectl JSON dump", cfg.Name)
	}
	if opts.Baseline != "" {
		if _, err := loadBaseline(opts.Baseline, rbacRiskRules, false); err != nil {
			return nil, fmt.Errorf("source %q: options.baseline: %w", cfg.Name, err)
		}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &kubernetesRBAC{name: cfg.Name, paths: cfg.Paths, opts: opts, logger: logger}, nil
}

// Refresh reads every file and checks each Role and ClusterRole against the
// baseline and the high-risk rules. Objects of other kinds are skipped and
// counted in one log line.
func (s *kubernetesRBAC) Refresh(ctx context.Context) (*Result, error) {
	var base *baseline
	if s.opts.Baseline != "" {
		var err error
		if base, err = loadBaseline(s.opts.Baseline, rbacRiskRules, false); err != nil {
			return nil, fmt.Errorf("source %q: options.baseline: %w", s.name, err)
		}
	}

	rejects := &privilegeRejects{logger: s.logger, source: s.name}
	input := newRBACInput()
	for _, path := range s.paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := readRBACFile(path, input, rejects); err != nil {
			return nil, fmt.Errorf("source %q: %w", s.name, err)
		}
	}
	if len(input.skipped) > 0 {
		s.logger.Debug("skipped objects of other kinds", "count", input.skippedCount(), "kinds", input.skippedKinds())
	}

	roles := input.uniqueRoles(rejects)
	rejects.flush()
	result := &Result{RecordsRead: input.records, RecordsRejected: rejects.count}
	fillRBACResult(result, roles, input, base)
	return result, nil
}

func fillRBACResult(result *Result, roles []*rbacRole, input *rbacInput, base *baseline) {
	snapshot := Snapshot{SLI: slo.SLIPrivilegeDrift, Objects: len(roles)}
	for _, role := range roles {
		finding := input.assess(role, base)
		if !finding.drifts() {
			continue
		}
		snapshot.Noncompliant++
		result.Noncompliant = append(result.Noncompliant, Object{
			SLI:    slo.SLIPrivilegeDrift,
			ID:     role.id(),
			Name:   role.displayName(),
			Reason: finding.reason(),
		})
	}
	result.Snapshots = []Snapshot{snapshot}
}

// rbacObject is the part of a Kubernetes object that the adapter reads.
// Other fields, such as metadata.uid or annotations, are ignored, because
// kubectl dumps carry many of them.
type rbacObject struct {
	APIVersion string        `yaml:"apiVersion"`
	Kind       string        `yaml:"kind"`
	Metadata   rbacMetadata  `yaml:"metadata"`
	Rules      []rbacRule    `yaml:"rules"`
	Subjects   []rbacSubject `yaml:"subjects"`
	RoleRef    rbacRoleRef   `yaml:"roleRef"`
	Items      []yaml.Node   `yaml:"items"`
}

type rbacMetadata struct {
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace"`
}

// rbacRule is one PolicyRule of a Role or ClusterRole.
type rbacRule struct {
	APIGroups       []string `yaml:"apiGroups"`
	Resources       []string `yaml:"resources"`
	Verbs           []string `yaml:"verbs"`
	ResourceNames   []string `yaml:"resourceNames"`
	NonResourceURLs []string `yaml:"nonResourceURLs"`
}

type rbacSubject struct {
	Kind      string `yaml:"kind"`
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace"`
}

type rbacRoleRef struct {
	Kind string `yaml:"kind"`
	Name string `yaml:"name"`
}

// rbacRole is a Role or ClusterRole with the place it was read from.
type rbacRole struct {
	kind      string
	namespace string
	name      string
	rules     []rbacRule
	file      string
	line      int
	// implied marks a cluster-admin ClusterRole that the input binds but
	// does not define; its rules are unknown.
	implied bool
}

// id is the object id in the triage list: Role/<namespace>/<name> or
// ClusterRole/<name>. A Role without a namespace, as in a manifest applied
// with kubectl -n, is Role/<name>.
func (r *rbacRole) id() string {
	return r.kind + "/" + r.displayName()
}

// displayName is <namespace>/<name> for a Role and <name> for a ClusterRole.
func (r *rbacRole) displayName() string {
	if r.namespace == "" {
		return r.name
	}
	return r.namespace + "/" + r.name
}

type rbacBinding struct {
	kind      string
	namespace string
	name      string
	subjects  []rbacSubject
	roleRef   rbacRoleRef
}

// roleID returns the id of the role the binding grants.
func (b *rbacBinding) roleID() string {
	if b.roleRef.Kind == rbacKindRole && b.namespace != "" {
		return rbacKindRole + "/" + b.namespace + "/" + b.roleRef.Name
	}
	return b.roleRef.Kind + "/" + b.roleRef.Name
}

// rbacInput collects the objects of every file of one refresh.
type rbacInput struct {
	roles    []*rbacRole
	bindings []*rbacBinding
	// bindingsByRole indexes bindings by the id of the role they grant.
	bindingsByRole map[string][]*rbacBinding
	skipped        map[string]int
	records        int
}

func newRBACInput() *rbacInput {
	return &rbacInput{bindingsByRole: make(map[string][]*rbacBinding), skipped: make(map[string]int)}
}

func (in *rbacInput) skippedCount() int {
	total := 0
	for _, count := range in.skipped {
		total += count
	}
	return total
}

func (in *rbacInput) skippedKinds() string {
	kinds := make([]string, 0, len(in.skipped))
	for kind := range in.skipped {
		kinds = append(kinds, kind)
	}
	sort.Strings(kinds)
	return strings.Join(kinds, ",")
}

func readRBACFile(path string, input *rbacInput, rejects *privilegeRejects) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("failed to read RBAC file: %w", err)
	}
	return parseRBAC(path, data, input, rejects)
}

// parseRBAC reads every YAML document of a file. JSON is read by the same
// decoder, since JSON is YAML. A syntax error fails the whole file, because
// the decoder cannot resume after it; an invalid object is rejected alone.
func parseRBAC(file string, data []byte, input *rbacInput, rejects *privilegeRejects) error {
	data = bytes.TrimPrefix(data, privilegeBOM)
	if len(bytes.TrimSpace(data)) == 0 {
		return &InputError{File: file, Err: errors.New("file is empty: expected Kubernetes RBAC objects as YAML documents or a JSON List")}
	}

	before := input.records
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return &InputError{File: file, Err: fmt.Errorf("invalid YAML: %w", err)}
		}
		if len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" {
			continue
		}
		input.addObject(file, doc.Content[0], rejects, true)
	}

	if input.records == before {
		return &InputError{File: file, Err: errors.New("file contains no Kubernetes objects, only comments or empty documents")}
	}
	return rejects.checkFile(file, input.records-before)
}

// addObject reads one object. A List's items are read as objects; a List
// nested in a List is rejected.
func (in *rbacInput) addObject(file string, node *yaml.Node, rejects *privilegeRejects, listAllowed bool) {
	in.records++
	reject := func(err error) {
		rejects.reject(file, &InputError{File: file, Line: node.Line, Column: node.Column, Err: err})
	}
	if node.Kind != yaml.MappingNode {
		reject(errors.New("expected a Kubernetes object as a mapping with apiVersion and kind"))
		return
	}

	var object rbacObject
	if err := node.Decode(&object); err != nil {
		reject(describeYAMLError(object.Kind, err))
		return
	}

	switch {
	case object.Kind == "":
		reject(errors.New("missing kind"))
	case strings.HasSuffix(object.Kind, "List") && !listAllowed:
		reject(fmt.Errorf("%s inside a List: list the objects as items of one List", object.Kind))
	case strings.HasSuffix(object.Kind, "List"):
		in.records--
		for i := range object.Items {
			in.addObject(file, &object.Items[i], rejects, false)
		}
	case !isRBACAPIVersion(object.APIVersion):
		in.skipped[object.Kind+" "+object.APIVersion]++
	default:
		in.addRBACObject(file, node, &object, reject)
	}
}

func isRBACAPIVersion(apiVersion string) bool {
	group, _, _ := strings.Cut(apiVersion, "/")
	return group == rbacAPIGroup
}

func (in *rbacInput) addRBACObject(file string, node *yaml.Node, object *rbacObject, reject func(error)) {
	switch object.Kind {
	case rbacKindRole, rbacKindClusterRole:
		role, err := newRBACRole(file, node.Line, object)
		if err != nil {
			reject(err)
			return
		}
		in.roles = append(in.roles, role)
	case rbacKindRoleBinding, rbacKindClusterRoleBinding:
		binding, err := newRBACBinding(object)
		if err != nil {
			reject(err)
			return
		}
		in.bindings = append(in.bindings, binding)
		in.bindingsByRole[binding.roleID()] = append(in.bindingsByRole[binding.roleID()], binding)
	default:
		in.skipped[object.Kind+" "+object.APIVersion]++
	}
}

// describeYAMLError joins the lines of a yaml.TypeError into one message.
func describeYAMLError(kind string, err error) error {
	if kind == "" {
		kind = "object"
	}
	var typeErr *yaml.TypeError
	if errors.As(err, &typeErr) {
		return fmt.Errorf("invalid %s: %s", kind, strings.Join(typeErr.Errors, "; "))
	}
	return fmt.Errorf("invalid %s: %w", kind, err)
}

// newRBACRole checks a Role or ClusterRole the way the API server validates
// it: a name, verbs in every rule, and API groups on every resource rule.
func newRBACRole(file string, line int, object *rbacObject) (*rbacRole, error) {
	role := &rbacRole{kind: object.Kind, name: object.Metadata.Name, rules: object.Rules, file: file, line: line}
	if object.Kind == rbacKindRole {
		role.namespace = object.Metadata.Namespace
	}
	if role.name == "" {
		return nil, fmt.Errorf("%s without metadata.name", object.Kind)
	}

	for i, rule := range object.Rules {
		if err := checkRBACRule(role, rule); err != nil {
			return nil, fmt.Errorf("%s %s: rule %d: %w", role.kind, role.displayName(), i+1, err)
		}
	}
	return role, nil
}

func checkRBACRule(role *rbacRole, rule rbacRule) error {
	switch {
	case len(rule.Verbs) == 0:
		return errors.New("missing verbs")
	case len(rule.NonResourceURLs) > 0 && role.kind == rbacKindRole:
		return errors.New("nonResourceURLs are valid only in a ClusterRole")
	case len(rule.NonResourceURLs) > 0 && len(rule.Resources) > 0:
		return errors.New("a rule lists either resources or nonResourceURLs, not both")
	case len(rule.NonResourceURLs) == 0 && len(rule.Resources) == 0:
		return errors.New("missing resources or nonResourceURLs")
	case len(rule.Resources) > 0 && len(rule.APIGroups) == 0:
		return errors.New(`missing apiGroups: use [""] for the core group`)
	}
	return nil
}

func newRBACBinding(object *rbacObject) (*rbacBinding, error) {
	binding := &rbacBinding{kind: object.Kind, name: object.Metadata.Name, subjects: object.Subjects, roleRef: object.RoleRef}
	if object.Kind == rbacKindRoleBinding {
		binding.namespace = object.Metadata.Namespace
	}
	switch {
	case binding.name == "":
		return nil, fmt.Errorf("%s without metadata.name", object.Kind)
	case binding.roleRef.Name == "":
		return nil, fmt.Errorf("%s %s: missing roleRef.name", object.Kind, binding.name)
	case binding.roleRef.Kind != rbacKindRole && binding.roleRef.Kind != rbacKindClusterRole:
		return nil, fmt.Errorf("%s %s: invalid roleRef.kind %q: use Role or ClusterRole", object.Kind, binding.name, binding.roleRef.Kind)
	case object.Kind == rbacKindClusterRoleBinding && binding.roleRef.Kind == rbacKindRole:
		return nil, fmt.Errorf("ClusterRoleBinding %s: roleRef.kind Role is invalid: a ClusterRoleBinding grants a ClusterRole", binding.name)
	}
	return binding, nil
}

// uniqueRoles rejects every copy of a role id listed more than once, and
// adds the cluster-admin ClusterRole when bindings grant it but no file
// defines it, so that those bindings are still reported.
func (in *rbacInput) uniqueRoles(rejects *privilegeRejects) []*rbacRole {
	copies := make(map[string][]*rbacRole, len(in.roles))
	for _, role := range in.roles {
		copies[role.id()] = append(copies[role.id()], role)
	}

	var unique []*rbacRole
	for _, role := range in.roles {
		all := copies[role.id()]
		if len(all) == 1 {
			unique = append(unique, role)
			continue
		}
		places := make([]string, len(all))
		for i, other := range all {
			places[i] = fmt.Sprintf("%s:%d", other.file, other.line)
		}
		rejects.reject(role.file, &InputError{File: role.file, Line: role.line, Err: fmt.Errorf(
			"duplicate %s %s, listed at %s: no copy is evaluated, because either may be stale; keep one", role.kind, role.displayName(), strings.Join(places, ", "))})
	}

	clusterAdmin := rbacKindClusterRole + "/" + rbacClusterAdmin
	if copies[clusterAdmin] == nil && len(in.bindingsByRole[clusterAdmin]) > 0 {
		unique = append(unique, &rbacRole{kind: rbacKindClusterRole, name: rbacClusterAdmin, implied: true})
	}
	return unique
}

// assess checks one role against its baseline entry and the high-risk rules.
func (in *rbacInput) assess(role *rbacRole, base *baseline) driftFinding {
	var match baselineMatch
	if base != nil {
		match = base.lookup(role.id(), role.displayName())
	}

	var finding driftFinding
	if base != nil {
		checkRBACBaseline(role, match, &finding)
	}
	for i, rule := range role.rules {
		checkRBACRisks(rule, i+1, match, &finding)
	}
	if role.kind == rbacKindClusterRole && role.name == rbacClusterAdmin {
		in.checkClusterAdminBindings(match, &finding)
	}
	finding.sortRisks(rbacRiskRules)

	if finding.drifts() {
		finding.subjects = in.subjectsOf(role)
	}
	return finding
}

// rbacActions spells each permission of a rule as <resource>[.<group>]:<verb>,
// such as deployments.apps:get or pods/exec:create, and a non-resource URL as
// <url>:<verb>, such as /metrics:get. The core group adds no suffix.
func rbacActions(rule rbacRule) []string {
	var actions []string
	for _, verb := range rule.Verbs {
		for _, url := range rule.NonResourceURLs {
			actions = append(actions, url+":"+verb)
		}
		for _, group := range rule.APIGroups {
			for _, resource := range rule.Resources {
				actions = append(actions, rbacAction(group, resource, verb))
			}
		}
	}
	return actions
}

func rbacAction(group, resource, verb string) string {
	if group == "" {
		return resource + ":" + verb
	}
	return resource + "." + group + ":" + verb
}

// checkRBACBaseline lists the role's actions that no allowed action covers.
// resourceNames are ignored, so a rule limited to named objects needs the
// same allowed action as one without the limit.
func checkRBACBaseline(role *rbacRole, match baselineMatch, finding *driftFinding) {
	seen := make(map[string]bool)
	for _, rule := range role.rules {
		for _, action := range rbacActions(rule) {
			if seen[action] {
				continue
			}
			seen[action] = true
			finding.granted++
			covered := slices.ContainsFunc(match.allowed, func(allowed string) bool { return globCovers(allowed, action) })
			if match.matched && !covered {
				finding.outside = append(finding.outside, action)
			}
		}
	}
	finding.unlisted = !match.matched
}

// checkRBACRisks applies the high-risk rules to one rule, matching as the
// Kubernetes authorizer does: * in apiGroups, resources or verbs matches
// everything, and */<subresource> matches that subresource of any resource.
// A rule that trips wildcard is not probed further, because the wildcard
// rule already names everything it grants, so accepting wildcard for a role
// accepts that rule whole.
func checkRBACRisks(rule rbacRule, index int, match baselineMatch, finding *driftFinding) {
	evidence := describeRBACRule(rule, index)
	if slices.Contains(rule.Verbs, "*") || slices.ContainsFunc(rule.Resources, isRBACWildcardResource) ||
		slices.Contains(rule.NonResourceURLs, "*") || slices.Contains(rule.NonResourceURLs, "/*") {
		finding.addRisk(match, "wildcard", evidence)
		return
	}
	if len(rule.ResourceNames) == 0 && rbacRuleAllows(rule, "", []string{"secrets"}, []string{"get", "list", "watch"}) {
		finding.addRisk(match, "secret_read", evidence)
	}
	if rbacRuleAllows(rule, rbacAPIGroup, []string{"roles", "clusterroles"}, []string{"escalate", "bind"}) ||
		rbacRuleAllows(rule, "", []string{"users", "groups", "serviceaccounts"}, []string{"impersonate"}) ||
		rbacRuleAllows(rule, "authentication.k8s.io", []string{"uids", "userextras/*"}, []string{"impersonate"}) {
		finding.addRisk(match, "escalation_verbs", evidence)
	}
	// NOTE: get is included because some Kubernetes versions authorize an
	// exec session over WebSockets with get alone; which versions was not
	// checked here.
	if rbacRuleAllows(rule, "", []string{"pods/exec", "pods/attach"}, []string{"create", "get"}) {
		finding.addRisk(match, "pod_exec", evidence)
	}
}

func isRBACWildcardResource(resource string) bool {
	return resource == "*" || strings.HasPrefix(resource, "*/")
}

// rbacRuleAllows reports whether a resource rule grants any of verbs on any
// of resources in group.
func rbacRuleAllows(rule rbacRule, group string, resources, verbs []string) bool {
	if !slices.Contains(rule.APIGroups, group) && !slices.Contains(rule.APIGroups, "*") {
		return false
	}
	verbAllowed := slices.Contains(rule.Verbs, "*") || slices.ContainsFunc(verbs, func(v string) bool { return slices.Contains(rule.Verbs, v) })
	resourceAllowed := slices.ContainsFunc(resources, func(r string) bool { return rbacResourceMatches(rule.Resources, r) })
	return verbAllowed && resourceAllowed
}

// rbacResourceMatches applies the authorizer's resource matching to one
// requested resource such as pods/exec.
func rbacResourceMatches(ruleResources []string, requested string) bool {
	_, subresource, hasSub := strings.Cut(requested, "/")
	for _, resource := range ruleResources {
		switch {
		case resource == "*" || resource == requested:
			return true
		case hasSub && resource == "*/"+subresource:
			return true
		}
	}
	return false
}

// describeRBACRule words a rule for a reason, such as
// "rule 2: get on * in the core group".
func describeRBACRule(rule rbacRule, index int) string {
	verbs := strings.Join(rule.Verbs, ",")
	if len(rule.NonResourceURLs) > 0 {
		return fmt.Sprintf("rule %d: %s on %s", index, verbs, strings.Join(rule.NonResourceURLs, ","))
	}

	groups := make([]string, len(rule.APIGroups))
	for i, group := range rule.APIGroups {
		groups[i] = group
		if group == "" {
			groups[i] = "core"
		}
	}
	text := fmt.Sprintf("rule %d: %s on %s in group %s", index, verbs, strings.Join(rule.Resources, ","), strings.Join(groups, ","))
	if len(rule.ResourceNames) > 0 {
		text += " named " + strings.Join(rule.ResourceNames, ",")
	}
	return text
}

// checkClusterAdminBindings reports each binding of cluster-admin to a
// subject other than the system:masters group, which every cluster binds by
// default.
func (in *rbacInput) checkClusterAdminBindings(match baselineMatch, finding *driftFinding) {
	for _, binding := range in.bindingsByRole[rbacKindClusterRole+"/"+rbacClusterAdmin] {
		for _, subject := range binding.subjects {
			if subject.Kind == "Group" && subject.Name == "system:masters" {
				continue
			}
			finding.addRisk(match, "cluster_admin_binding", fmt.Sprintf("%s %s binds %s", binding.kind, binding.displayName(), describeRBACSubject(subject, binding.namespace)))
		}
	}
}

func (b *rbacBinding) displayName() string {
	if b.namespace == "" {
		return b.name
	}
	return b.namespace + "/" + b.name
}

// subjectsOf lists the subjects bound to a role, each once.
func (in *rbacInput) subjectsOf(role *rbacRole) []string {
	var subjects []string
	for _, binding := range in.bindingsByRole[role.id()] {
		for _, subject := range binding.subjects {
			text := describeRBACSubject(subject, binding.namespace)
			if !slices.Contains(subjects, text) {
				subjects = append(subjects, text)
			}
		}
	}
	return subjects
}

// describeRBACSubject words a subject such as "ServiceAccount ns/name". A
// service account without a namespace in a RoleBinding lives in the
// binding's namespace.
func describeRBACSubject(subject rbacSubject, bindingNamespace string) string {
	namespace := subject.Namespace
	if subject.Kind == "ServiceAccount" && namespace == "" {
		namespace = bindingNamespace
	}
	if namespace == "" {
		return subject.Kind + " " + subject.Name
	}
	return subject.Kind + " " + namespace + "/" + subject.Name
}
