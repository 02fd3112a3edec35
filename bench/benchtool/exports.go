package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Shapes of the generated exports. Every 10th asset is of high criticality
// and out of scope; every 20th asset was last seen 2 hours before the export
// and every 1,000th never. Every 10th role holds an inline admin policy; the
// baseline names every 97th role exactly and each team by an ARN pattern.
// Prowler findings rotate over the checks of the mapping, and the checks
// of one control in four are last reported 30 days ago.
const (
	prowlerChecks   = 200
	prowlerControls = 40
)

// runExports writes the inputs of the exporter benchmark into -dir: an asset
// list with last-seen records, an IAM authorization-details export with a
// privilege baseline (YAML for secslo, JSON for the jq script), a Prowler
// OCSF output with an ISO 27001 mapping, and secslo.yaml naming them all.
func runExports(args []string) error {
	fs := flag.NewFlagSet("exports", flag.ContinueOnError)
	dir := fs.String("dir", "", "folder to write into")
	assets := fs.Int("assets", 1_000_000, "assets in the inventory")
	roles := fs.Int("roles", 10_000, "roles in the IAM export")
	findings := fs.Int("findings", 100_000, "findings in the Prowler output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Second)

	steps := []func() error{
		func() error { return writeInventory(*dir, *assets, now) },
		func() error { return writeIAM(*dir, *roles) },
		func() error { return writeProwler(*dir, *findings, now) },
		func() error { return writeExporterConfig(*dir) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// writeLines writes a file line by line through a buffer.
func writeLines(path string, write func(w *bufio.Writer)) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	write(w)
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

func writeInventory(dir string, assets int, now time.Time) error {
	err := writeLines(filepath.Join(dir, "assets.csv"), func(w *bufio.Writer) {
		w.WriteString("id,name,criticality,owner,tags\n")
		for i := range assets {
			criticality := "critical"
			if i%10 == 3 {
				criticality = "high"
			}
			fmt.Fprintf(w, "i-%012d,host-%d.example.internal,%s,team-%d,prod;linux\n", i, i, criticality, i%50)
		}
	})
	if err != nil {
		return err
	}
	return writeLines(filepath.Join(dir, "last_seen.csv"), func(w *bufio.Writer) {
		w.WriteString("id,last_seen\n")
		for i := range assets {
			if i%1000 == 999 {
				continue
			}
			at := now.Add(-time.Duration(i%60) * time.Second)
			if i%20 == 0 {
				at = now.Add(-2 * time.Hour)
			}
			fmt.Fprintf(w, "i-%012d,%s\n", i, at.Format(time.RFC3339))
		}
	})
}

func writeIAM(dir string, roles int) error {
	type statement map[string]any
	document := func(statements ...statement) map[string]any {
		return map[string]any{"Version": "2012-10-17", "Statement": statements}
	}

	var policies []map[string]any
	for i := range 100 {
		policies = append(policies, map[string]any{
			"PolicyName": fmt.Sprintf("managed-%d", i), "Arn": fmt.Sprintf("arn:aws:iam::111122223333:policy/managed-%d", i),
			"DefaultVersionId": "v2",
			"PolicyVersionList": []map[string]any{
				{"VersionId": "v2", "IsDefaultVersion": true, "Document": document(
					statement{"Effect": "Allow", "Action": []string{"s3:GetObject", "s3:PutObject", "s3:ListBucket"}, "Resource": fmt.Sprintf("arn:aws:s3:::bucket-%d/*", i)},
					statement{"Effect": "Allow", "Action": "dynamodb:Query", "Resource": fmt.Sprintf("arn:aws:dynamodb:eu-west-1:111122223333:table/t%d", i)},
				)},
				{"VersionId": "v1", "IsDefaultVersion": false, "Document": document(
					statement{"Effect": "Allow", "Action": "*", "Resource": "*"},
				)},
			},
		})
	}

	details := make([]map[string]any, 0, roles)
	for i := range roles {
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
	export := map[string]any{"RoleDetailList": details, "Policies": policies, "UserDetailList": []any{}, "GroupDetailList": []any{}}
	data, err := json.MarshalIndent(export, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "iam.json"), data, 0o644); err != nil {
		return err
	}

	type entry struct {
		Principal      string   `json:"principal"`
		AllowedActions []string `json:"allowed_actions"`
	}
	var entries []entry
	for i := range 100 {
		if i*97 < roles {
			entries = append(entries, entry{fmt.Sprintf("role-%05d", i*97), []string{"logs:*", "sqs:*", "s3:Get*", "s3:PutObject", "s3:List*", "dynamodb:Query"}})
		}
		entries = append(entries, entry{fmt.Sprintf("arn:aws:iam::*:role/team-%d/*", i), []string{"logs:*", "sqs:SendMessage"}})
	}
	var yamlText strings.Builder
	yamlText.WriteString("principals:\n")
	for _, e := range entries {
		quoted, _ := json.Marshal(e.AllowedActions)
		fmt.Fprintf(&yamlText, "  - principal: %q\n    allowed_actions: %s\n", e.Principal, quoted)
	}
	if err := os.WriteFile(filepath.Join(dir, "iam-baseline.yaml"), []byte(yamlText.String()), 0o644); err != nil {
		return err
	}
	jsonText, err := json.Marshal(map[string]any{"principals": entries})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "iam-baseline.json"), jsonText, 0o644)
}

func prowlerCheckName(i int) string { return fmt.Sprintf("bench_check_%03d", i) }

func writeProwler(dir string, findings int, now time.Time) error {
	var requirements []map[string]any
	for c := range prowlerControls {
		var checks []string
		for k := c; k < prowlerChecks; k += prowlerControls {
			checks = append(checks, prowlerCheckName(k))
		}
		requirements = append(requirements, map[string]any{"Id": fmt.Sprintf("A.8.%d", c%34+1), "Description": "generated", "Checks": checks})
	}
	// Annex A has 34 technological controls; the rest map to A.5.
	for c := 34; c < prowlerControls; c++ {
		requirements[c]["Id"] = fmt.Sprintf("A.5.%d", c-33)
	}
	mapping, err := json.MarshalIndent(map[string]any{"Framework": "ISO27001", "Version": "2022", "Provider": "AWS", "Requirements": requirements}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "iso27001_2022_aws.json"), mapping, 0o644); err != nil {
		return err
	}

	statuses := []string{"PASS", "FAIL", "PASS", "MANUAL"}
	return writeLines(filepath.Join(dir, "prowler.ocsf.json"), func(w *bufio.Writer) {
		w.WriteString("[\n")
		for i := range findings {
			if i > 0 {
				w.WriteString(",\n")
			}
			check := i % prowlerChecks
			at := now.Add(-time.Duration(i%3600) * time.Second)
			if check%prowlerControls%4 == 0 {
				at = now.Add(-30 * 24 * time.Hour)
			}
			fmt.Fprintf(w, `{"message": "finding %d", "metadata": {"event_code": %q, "product": {"name": "Prowler", "version": "5.4.0"}}, "severity": "Medium", "status_code": %q, "time": %d, "time_dt": %q, "resources": [{"uid": "arn:aws:s3:::bucket-%d", "region": "eu-west-1"}]}`,
				i, prowlerCheckName(check), statuses[i%len(statuses)], at.Unix(), at.Format("2006-01-02T15:04:05"), i)
		}
		w.WriteString("\n]\n")
	})
}

func writeExporterConfig(dir string) error {
	config := `sources:
  - name: inventory
    type: inventory
    paths: [assets.csv]
    refresh_interval: 1s
    options:
      last_seen: {format: csv, paths: [last_seen.csv]}
  - name: iam
    type: aws_iam
    paths: [iam.json]
    refresh_interval: 1s
    options:
      baseline: iam-baseline.yaml
  - name: prowler
    type: prowler
    paths: [prowler.ocsf.json, iso27001_2022_aws.json]
    refresh_interval: 1s
`
	return os.WriteFile(filepath.Join(dir, "secslo.yaml"), []byte(config), 0o644)
}
