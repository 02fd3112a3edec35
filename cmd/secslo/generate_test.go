package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const validSpec = `version: secslo/v1
service: identity
slos:
  - name: patching
    objective: 90
    controls: [A.8.8]
    sli:
      snapshot:
        bad: hosts_unpatched
        total: hosts
`

// runCommand runs secslo with args and returns its exit status and output.
func runCommand(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func writeSpec(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "slos.yaml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestValidateReportsLengthenedWindows(t *testing.T) {
	code, stdout, stderr := runCommand(t, "validate", "--spec="+writeSpec(t, validSpec))

	if code != exitOK {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{
		"identity/patching: objective 90 % over 30d, error budget 0.1, controls A.8.8",
		"page-fast   burn factor 9.6     threshold 0.96      long window 1h30m  short window 8m",
		"note: long window lengthened from 1h to 1h30m",
		"1 SLO(s) valid.",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

func TestValidateReportsExternalSLOs(t *testing.T) {
	code, stdout, stderr := runCommand(t, "validate", "--config.file="+exampleConfig)

	if code != exitOK {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{
		"auth/login-errors: objective 99.5 % over 30d, error budget 0.005, controls none\n  evaluated only by an external Prometheus: secslo serve's engine cannot evaluate it, because secslo does not serve auth_login_requests_total\n",
		"because secslo does not serve auth_mfa_challenge_duration_seconds_bucket, auth_mfa_challenge_duration_seconds_count\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if n := strings.Count(stdout, "evaluated only by an external Prometheus"); n != 2 {
		t.Errorf("output reports %d external SLOs, want the 2 Sloth SLOs of the example:\n%s", n, stdout)
	}
}

func TestValidateFailsWithPositions(t *testing.T) {
	spec := writeSpec(t, strings.Replace(validSpec, "objective: 90", "objective: 190", 1))

	code, _, stderr := runCommand(t, "validate", "--spec="+spec)

	if code != exitFailure {
		t.Errorf("exit status %d, want %d", code, exitFailure)
	}
	want := spec + ":5:16: slos[0].objective: objective 190 is outside (0, 100]"
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
}

func TestValidateNeedsSpecs(t *testing.T) {
	code, _, stderr := runCommand(t, "validate")

	if code != exitFailure || !strings.Contains(stderr, "no specs selected") {
		t.Errorf("got status %d and %q, want status 1 and a hint to set --spec", code, stderr)
	}
}

func TestGenerateWritesRulesAndTests(t *testing.T) {
	out := t.TempDir()

	code, stdout, stderr := runCommand(t, "generate", "--spec="+writeSpec(t, validSpec), "--output.dir="+out)

	if code != exitOK {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", code, stderr)
	}
	for _, rel := range []string{"rules/identity.yml", "tests/identity-patching.yml"} {
		if _, err := os.Stat(filepath.Join(out, rel)); err != nil {
			t.Errorf("%s not written: %v", rel, err)
		}
		if !strings.Contains(stdout, "wrote "+rel) {
			t.Errorf("output does not list %s:\n%s", rel, stdout)
		}
	}
}

func TestGenerateWritesNothingOnInvalidSpec(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	spec := writeSpec(t, strings.Replace(validSpec, "controls: [A.8.8]", "controls: [A.9.9]", 1))

	code, _, stderr := runCommand(t, "generate", "--spec="+spec, "--output.dir="+out)

	if code != exitFailure {
		t.Errorf("exit status %d, want %d", code, exitFailure)
	}
	if !strings.Contains(stderr, "nothing was generated") {
		t.Errorf("stderr does not say that nothing was generated:\n%s", stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output folder exists after a failed run: %v", err)
	}
}

func TestGenerateLeavesOldFilesWholeWhenAFolderCannotBeCreated(t *testing.T) {
	out := t.TempDir()
	// A file named "tests" keeps the tests folder from being created.
	if err := os.WriteFile(filepath.Join(out, "tests"), []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}

	code, _, stderr := runCommand(t, "generate", "--spec="+writeSpec(t, validSpec), "--output.dir="+out)

	if code != exitFailure {
		t.Fatalf("exit status %d, want %d", code, exitFailure)
	}
	if !strings.Contains(stderr, "nothing was written") {
		t.Errorf("stderr does not say that nothing was written:\n%s", stderr)
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 1 || entries[0].Name() != "tests" {
		names := []string{}
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("output folder holds %v, want only the file that was in the way", names)
	}
}

func TestGenerateRejectsUnknownFormat(t *testing.T) {
	code, _, stderr := runCommand(t, "generate", "--spec="+writeSpec(t, validSpec), "--output.dir="+t.TempDir(), "--output.format=graphite")

	if code != exitUsage || !strings.Contains(stderr, "graphite") {
		t.Errorf("got status %d and %q, want status %d naming the format", code, stderr, exitUsage)
	}
}

func TestValidateChecksSourceOptions(t *testing.T) {
	dir := t.TempDir()
	spec := writeSpec(t, validSpec)
	config := "specs: [" + spec + "]\nsources:\n  - name: hosts\n    type: patches\n    paths: [hosts.json]\n    options:\n      slas: {critical: 7d}\n"
	configFile := filepath.Join(dir, "secslo.yaml")
	if err := os.WriteFile(configFile, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}

	code, _, stderr := runCommand(t, "validate", "--config.file="+configFile)

	if code != exitFailure {
		t.Errorf("exit status %d, want %d", code, exitFailure)
	}
	if !strings.Contains(stderr, "slas") {
		t.Errorf("stderr does not name the unknown option slas:\n%s", stderr)
	}
}

// writeConfig writes a secslo.yaml that selects spec and ends with
// alerting, a YAML alerting section or nothing, and returns its path.
func writeConfig(t *testing.T, spec, alerting string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secslo.yaml")
	if err := os.WriteFile(path, []byte("specs: ["+spec+"]\n"+alerting), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGenerateNamesAlertmanagerReceivers(t *testing.T) {
	spec := writeSpec(t, validSpec)
	cases := []struct {
		name       string
		args       []string
		wantPage   string
		wantTicket string
	}{
		{
			name:       "spec without flags uses the defaults",
			args:       []string{"--spec=" + spec},
			wantPage:   "secslo-page",
			wantTicket: "secslo-ticket",
		},
		{
			name:       "spec with flags uses the flags",
			args:       []string{"--spec=" + spec, "--alertmanager.page-receiver=pager", "--alertmanager.ticket-receiver=jira"},
			wantPage:   "pager",
			wantTicket: "jira",
		},
		{
			name:       "config uses its alerting section",
			args:       []string{"--config.file=" + writeConfig(t, spec, "alerting:\n  page_receiver: pager\n  ticket_receiver: jira\n")},
			wantPage:   "pager",
			wantTicket: "jira",
		},
		{
			name:       "config without alerting uses the defaults",
			args:       []string{"--config.file=" + writeConfig(t, spec, "")},
			wantPage:   "secslo-page",
			wantTicket: "secslo-ticket",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()

			code, stdout, stderr := runCommand(t, append([]string{"generate", "--output.dir=" + out}, tc.args...)...)

			if code != exitOK {
				t.Fatalf("exit status %d, want 0; stderr:\n%s", code, stderr)
			}
			for _, rel := range []string{"alertmanager/routes.yml", "alertmanager/alertmanager.yml"} {
				if !strings.Contains(stdout, "wrote "+rel) {
					t.Errorf("output does not list %s:\n%s", rel, stdout)
				}
				data, err := os.ReadFile(filepath.Join(out, rel))
				if err != nil {
					t.Fatalf("%s not written: %v", rel, err)
				}
				for _, want := range []string{"receiver: " + tc.wantPage + "\n", "receiver: " + tc.wantTicket + "\n"} {
					if !strings.Contains(string(data), want) {
						t.Errorf("%s lacks %q:\n%s", rel, want, data)
					}
				}
			}
		})
	}
}

func TestGenerateRejectsReceiverFlagsWithConfig(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	config := writeConfig(t, writeSpec(t, validSpec), "")

	code, _, stderr := runCommand(t, "generate", "--config.file="+config, "--output.dir="+out, "--alertmanager.page-receiver=pager")

	if code != exitFailure {
		t.Errorf("exit status %d, want %d", code, exitFailure)
	}
	if !strings.Contains(stderr, "set alerting.page_receiver") {
		t.Errorf("stderr does not point to the alerting section:\n%s", stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output folder exists after a failed run: %v", err)
	}
}

func TestGenerateRemovesFilesOfDeletedSLOs(t *testing.T) {
	out := t.TempDir()
	twoSLOs := validSpec + `  - name: logging
    objective: 98
    controls: [A.8.15]
    sli:
      snapshot:
        bad: hosts_silent
        total: hosts
`
	spec := writeSpec(t, twoSLOs)
	if code, _, stderr := runCommand(t, "generate", "--spec="+spec, "--output.dir="+out); code != exitOK {
		t.Fatalf("first generate: exit status %d; stderr:\n%s", code, stderr)
	}
	handWritten := filepath.Join(out, "tests", "mine.yml")
	if err := os.WriteFile(handWritten, []byte("# kept\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(spec, []byte(validSpec), 0o644); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := runCommand(t, "generate", "--spec="+spec, "--output.dir="+out)

	if code != exitOK {
		t.Fatalf("second generate: exit status %d; stderr:\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "tests", "identity-logging.yml")); !os.IsNotExist(err) {
		t.Errorf("test of the deleted SLO still exists: %v", err)
	}
	if !strings.Contains(stdout, "removed tests/identity-logging.yml") {
		t.Errorf("output does not report the removal:\n%s", stdout)
	}
	if _, err := os.Stat(handWritten); err != nil {
		t.Errorf("a file that generate did not write was removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "tests", "identity-patching.yml")); err != nil {
		t.Errorf("test of the remaining SLO is missing: %v", err)
	}
}
