package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/secslo/secslo/sources"
)

// deployDir is the folder of the deploy files.
const deployDir = "../../deploy"

// deployGenerated maps each folder of generated files in deploy/ to the
// output folder of secslo generate, by format, that deploy/generate.sh
// copies it from.
var deployGenerated = []struct {
	deploy, format, output string
}{
	{"prometheus/rules", "prometheus", "rules"},
	{"alertmanager", "prometheus", "alertmanager"},
	{"grafana/dashboards", "prometheus", "dashboards"},
	{"kubernetes/prometheusrules", "prometheus-operator", "rules"},
}

func TestDeployGeneratedFilesAreCurrent(t *testing.T) {
	outputs := map[string]string{}
	for _, format := range []string{"prometheus", "prometheus-operator"} {
		out := filepath.Join(t.TempDir(), format)
		var stderr bytes.Buffer
		args := []string{"generate", "--config.file=" + exampleConfig, "--output.dir=" + out, "--output.no-tests", "--output.format=" + format}
		if code := Run(context.Background(), args, io.Discard, &stderr); code != exitOK {
			t.Fatalf("generate --output.format=%s exited with %d; stderr:\n%s", format, code, stderr.String())
		}
		outputs[format] = out
	}

	for _, g := range deployGenerated {
		want := readFolder(t, filepath.Join(outputs[g.format], g.output))
		got := readFolder(t, filepath.Join(deployDir, g.deploy))
		for name, data := range want {
			if !bytes.Equal(got[name], data) {
				t.Errorf("deploy/%s/%s differs from what secslo generate writes; run deploy/generate.sh", g.deploy, name)
			}
		}
		for name := range got {
			if _, ok := want[name]; !ok {
				t.Errorf("deploy/%s/%s is not generated any more; run deploy/generate.sh", g.deploy, name)
			}
		}
	}
}

// readFolder returns the content of every file in dir by name.
func readFolder(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = data
	}
	return files
}

func TestDeployPrometheusConfigPassesPromtool(t *testing.T) {
	promtool := requirePromtool(t)
	output, err := exec.Command(promtool, "check", "config", filepath.Join(deployDir, "prometheus", "prometheus.yml")).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check config failed: %v\n%s", err, output)
	}
	// promtool also checks the rule files that the config loads.
	if !strings.Contains(string(output), "3 rule files found") {
		t.Errorf("promtool check config did not find the 3 generated rule files:\n%s", output)
	}
}

func TestDeployAlertmanagerConfigPassesAmtool(t *testing.T) {
	amtool := requireE2ETool(t, "amtool", "prometheus-alertmanager")
	output, err := exec.Command(amtool, "check-config", filepath.Join(deployDir, "alertmanager", "alertmanager.yml")).CombinedOutput()
	if err != nil {
		t.Errorf("amtool check-config alertmanager.yml failed: %v\n%s", err, output)
	}
}

// k8sObject is the part of a Kubernetes manifest that the tests read.
type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec yaml.Node `yaml:"spec"`
}

// readManifests decodes every YAML document of file.
func readManifests(t *testing.T, file string) []k8sObject {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var objects []k8sObject
	decoder := yaml.NewDecoder(f)
	for {
		var object k8sObject
		err := decoder.Decode(&object)
		if errors.Is(err, io.EOF) {
			return objects
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		objects = append(objects, object)
	}
}

// decodeSpec decodes the spec of object into v, which declares only the
// fields that a test reads.
func decodeSpec(t *testing.T, object k8sObject, v any) {
	t.Helper()
	if err := object.Spec.Decode(v); err != nil {
		t.Fatalf("%s %s: %v", object.Kind, object.Metadata.Name, err)
	}
}

// kustomization is the part of kustomization.yaml that the tests read.
type kustomization struct {
	Resources          []string `yaml:"resources"`
	ConfigMapGenerator []struct {
		Name  string   `yaml:"name"`
		Files []string `yaml:"files"`
	} `yaml:"configMapGenerator"`
}

// k8sContainer is the part of a container that the tests read.
type k8sContainer struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	LivenessProbe   *k8sProbe `yaml:"livenessProbe"`
	ReadinessProbe  *k8sProbe `yaml:"readinessProbe"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
}

type k8sProbe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

// k8sDeploymentSpec is the part of a Deployment's spec that the tests read.
type k8sDeploymentSpec struct {
	Selector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	} `yaml:"selector"`
	Template struct {
		Metadata struct {
			Labels map[string]string `yaml:"labels"`
		} `yaml:"metadata"`
		Spec struct {
			SecurityContext struct {
				RunAsNonRoot *bool `yaml:"runAsNonRoot"`
				RunAsUser    int   `yaml:"runAsUser"`
			} `yaml:"securityContext"`
			Containers []k8sContainer `yaml:"containers"`
			Volumes    []struct {
				Name      string `yaml:"name"`
				ConfigMap *struct {
					Name string `yaml:"name"`
				} `yaml:"configMap"`
			} `yaml:"volumes"`
		} `yaml:"spec"`
	} `yaml:"template"`
}

func TestDeployKubernetesBase(t *testing.T) {
	dir := filepath.Join(deployDir, "kubernetes")
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var kust kustomization
	if err := yaml.Unmarshal(data, &kust); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}

	objects := map[string]k8sObject{}
	for _, resource := range kust.Resources {
		for _, object := range readManifests(t, filepath.Join(dir, resource)) {
			objects[object.Kind+"/"+object.Metadata.Name] = object
		}
	}
	generated, err := filepath.Glob(filepath.Join(dir, "prometheusrules", "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range generated {
		resource := filepath.ToSlash(filepath.Join("prometheusrules", filepath.Base(file)))
		if !slices.Contains(kust.Resources, resource) {
			t.Errorf("kustomization.yaml does not list the generated %s under resources", resource)
		}
	}
	for _, want := range []string{"Deployment/secslo", "Service/secslo", "ServiceMonitor/secslo"} {
		if _, ok := objects[want]; !ok {
			t.Errorf("the kustomize base has no %s", want)
		}
	}
	rules := 0
	for _, object := range objects {
		if object.Kind == "PrometheusRule" && object.APIVersion == "monitoring.coreos.com/v1" {
			rules++
		}
	}
	if rules != len(generated) {
		t.Errorf("the kustomize base has %d PrometheusRules, want one per generated file, %d", rules, len(generated))
	}

	var deployment k8sDeploymentSpec
	decodeSpec(t, objects["Deployment/secslo"], &deployment)
	checkDeployment(t, deployment, kust)
	checkServiceAndMonitor(t, objects, deployment)
	checkKubernetesConfig(t, filepath.Join(dir, "secslo.yaml"))
}

// checkDeployment checks the probes, the security context, the port and
// the volumes of the secslo Deployment.
func checkDeployment(t *testing.T, deployment k8sDeploymentSpec, kust kustomization) {
	t.Helper()
	pod := deployment.Template.Spec
	if !hasLabelSubset(deployment.Template.Metadata.Labels, deployment.Selector.MatchLabels) || len(deployment.Selector.MatchLabels) == 0 {
		t.Errorf("Deployment selector %v does not match its pod labels %v", deployment.Selector.MatchLabels, deployment.Template.Metadata.Labels)
	}
	if pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot || pod.SecurityContext.RunAsUser == 0 {
		t.Errorf("pod security context does not set runAsNonRoot: true and a non-zero runAsUser")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("Deployment has %d containers, want 1", len(pod.Containers))
	}

	c := pod.Containers[0]
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 20027 {
		t.Errorf("container ports = %+v, want one port 20027", c.Ports)
	}
	if !slices.Contains(c.Args, "--web.listen-address=:20027") || len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Errorf("container args = %v, want serve with --web.listen-address=:20027", c.Args)
	}
	for probe, want := range map[*k8sProbe]string{c.LivenessProbe: "/-/healthy", c.ReadinessProbe: "/-/ready"} {
		if probe == nil || probe.HTTPGet.Path != want || len(c.Ports) == 0 || probe.HTTPGet.Port != c.Ports[0].Name {
			t.Errorf("probe %+v, want an HTTP GET of %s on port %q", probe, want, c.Ports[0].Name)
		}
	}
	sc := c.SecurityContext
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("container security context does not set readOnlyRootFilesystem: true")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("container security context does not set allowPrivilegeEscalation: false")
	}
	if !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) {
		t.Errorf("container drops capabilities %v, want [ALL]", sc.Capabilities.Drop)
	}

	// The config volume is the ConfigMap that kustomize generates, mounted
	// where --config.file points.
	volumes := map[string]string{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = ""
		if v.ConfigMap != nil {
			volumes[v.Name] = v.ConfigMap.Name
		}
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		if _, ok := volumes[m.Name]; !ok {
			t.Errorf("volume mount %q names no volume of the pod", m.Name)
		}
		mounts[m.MountPath] = m.Name
	}
	configMount, ok := mounts["/etc/secslo"]
	if !ok || !slices.Contains(c.Args, "--config.file=/etc/secslo/secslo.yaml") {
		t.Fatalf("no volume mounted at /etc/secslo for --config.file=/etc/secslo/secslo.yaml; mounts %v, args %v", mounts, c.Args)
	}
	if len(kust.ConfigMapGenerator) != 1 || kust.ConfigMapGenerator[0].Name != volumes[configMount] || !slices.Equal(kust.ConfigMapGenerator[0].Files, []string{"secslo.yaml"}) {
		t.Errorf("volume %q mounts ConfigMap %q, want the generated ConfigMap of secslo.yaml", configMount, volumes[configMount])
	}
	if _, ok := mounts["/var/lib/secslo/ledger"]; !ok || !slices.Contains(c.Args, "--ledger.path=/var/lib/secslo/ledger/secslo-ledger.db") {
		t.Errorf("the ledger path is not on a writable volume at /var/lib/secslo/ledger; mounts %v, args %v", mounts, c.Args)
	}
}

// checkServiceAndMonitor checks that the Service selects the Deployment's
// pods and that the ServiceMonitor selects the Service's port.
func checkServiceAndMonitor(t *testing.T, objects map[string]k8sObject, deployment k8sDeploymentSpec) {
	t.Helper()
	var service struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort string `yaml:"targetPort"`
		} `yaml:"ports"`
	}
	decodeSpec(t, objects["Service/secslo"], &service)
	if len(service.Selector) == 0 || !hasLabelSubset(deployment.Template.Metadata.Labels, service.Selector) {
		t.Errorf("Service selector %v does not select the pods %v", service.Selector, deployment.Template.Metadata.Labels)
	}
	if len(service.Ports) != 1 || service.Ports[0].TargetPort != deployment.Template.Spec.Containers[0].Ports[0].Name {
		t.Errorf("Service ports %+v do not target the container port %q", service.Ports, deployment.Template.Spec.Containers[0].Ports[0].Name)
	}

	var monitor struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Endpoints []struct {
			Port string `yaml:"port"`
			Path string `yaml:"path"`
		} `yaml:"endpoints"`
	}
	decodeSpec(t, objects["ServiceMonitor/secslo"], &monitor)
	serviceLabels := objects["Service/secslo"].Metadata.Labels
	if len(monitor.Selector.MatchLabels) == 0 || !hasLabelSubset(serviceLabels, monitor.Selector.MatchLabels) {
		t.Errorf("ServiceMonitor selector %v does not select the Service's labels %v", monitor.Selector.MatchLabels, serviceLabels)
	}
	if len(monitor.Endpoints) != 1 || len(service.Ports) == 0 || monitor.Endpoints[0].Port != service.Ports[0].Name || monitor.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor endpoints %+v, want /metrics on the Service port", monitor.Endpoints)
	}
}

// checkKubernetesConfig validates the ConfigMap's secslo.yaml with the
// adapters of this binary, and checks that every path it reads is a file of
// the example data, from which the README creates the exports ConfigMap.
func checkKubernetesConfig(t *testing.T, file string) {
	t.Helper()
	config, err := sources.LoadConfigFile(file)
	if err != nil {
		t.Fatalf("failed to load %s: %v", file, err)
	}
	if err := config.Validate(sourceRegistry()); err != nil {
		t.Errorf("%s is invalid: %v", file, err)
	}

	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	const exports = "/var/lib/secslo/exports/"
	paths := 0
	var fields []string
	for _, line := range strings.Split(string(data), "\n") {
		if code, _, _ := strings.Cut(line, "#"); strings.TrimSpace(code) != "" {
			fields = append(fields, strings.Fields(code)...)
		}
	}
	for _, field := range fields {
		field = strings.Trim(field, "[],")
		if !strings.HasPrefix(field, "/") {
			continue
		}
		paths++
		name, ok := strings.CutPrefix(field, exports)
		if !ok {
			t.Errorf("%s reads %s, outside the exports volume %s", file, field, exports)
			continue
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(exampleConfig), "data", name)); err != nil {
			t.Errorf("%s reads %s, which is not a file of the example data: %v", file, field, err)
		}
	}
	if paths < len(exampleSources) {
		t.Errorf("%s names %d paths, want at least one per example source", file, paths)
	}
}

// composeFile is the part of compose.yaml that the tests read.
type composeFile struct {
	Services map[string]struct {
		Image   string   `yaml:"image"`
		Command []string `yaml:"command"`
		Volumes []string `yaml:"volumes"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

func TestDeployComposeFile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(deployDir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose composeFile
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}

	mounts := map[string]string{}
	for _, name := range []string{"secslo", "prometheus", "alertmanager", "grafana"} {
		service, ok := compose.Services[name]
		if !ok {
			t.Errorf("compose.yaml has no service %q", name)
			continue
		}
		for _, volume := range service.Volumes {
			source, target, _ := strings.Cut(volume, ":")
			target, _, _ = strings.Cut(target, ":")
			if strings.HasPrefix(source, ".") {
				if _, err := os.Stat(filepath.Join(deployDir, source)); err != nil {
					t.Errorf("service %s mounts %s, which does not exist: %v", name, source, err)
				}
				mounts[target] = source
			} else if _, ok := compose.Volumes[source]; !ok {
				t.Errorf("service %s mounts the volume %q, which compose.yaml does not declare", name, source)
			}
		}
	}

	// Each service finds its config where its command or provisioning
	// looks for it.
	for target, want := range map[string]string{
		"/etc/secslo":                        "../examples",
		"/etc/prometheus":                    "./prometheus",
		"/etc/alertmanager":                  "./alertmanager",
		"/etc/grafana/provisioning":          "./grafana/provisioning",
		"/var/lib/grafana/dashboards/secslo": "./grafana/dashboards",
	} {
		if mounts[target] != want {
			t.Errorf("compose.yaml mounts %q at %s, want %q", mounts[target], target, want)
		}
	}
	var provider struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	data, err = os.ReadFile(filepath.Join(deployDir, "grafana", "provisioning", "dashboards", "secslo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &provider); err != nil {
		t.Fatal(err)
	}
	if len(provider.Providers) != 1 || provider.Providers[0].Options.Path != "/var/lib/grafana/dashboards/secslo" {
		t.Errorf("Grafana's dashboard provider reads %+v, want the folder that compose.yaml mounts, /var/lib/grafana/dashboards/secslo", provider.Providers)
	}
	if !slices.Contains(compose.Services["secslo"].Command, "--config.file=/etc/secslo/secslo.yaml") {
		t.Errorf("secslo's command %v does not read /etc/secslo/secslo.yaml", compose.Services["secslo"].Command)
	}
}
