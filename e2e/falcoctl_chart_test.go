package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// falcoctlEnv is an environment that runs the built binary as "falcoctl",
// through a symlink, with none of the FERRY_*_DIR variables newEnv sets:
// the directories come from falcoctl's config, environment or defaults.
type falcoctlEnv struct {
	*env
	bin string
}

func newFalcoctlEnv(t *testing.T) *falcoctlEnv {
	t.Helper()
	e := newEnv(t)
	for _, v := range []string{"FERRY_RULESFILES_DIR", "FERRY_PLUGINS_DIR", "FERRY_ASSETS_DIR", "FERRY_STATE_DIR"} {
		e.vars = withoutVar(e.vars, v)
	}
	bin := e.path("bin", "falcoctl")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(ferryBin, bin); err != nil {
		t.Fatal(err)
	}
	return &falcoctlEnv{env: e, bin: bin}
}

func (e *falcoctlEnv) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command(e.bin, args...)
	cmd.Env = e.vars
	return cmd
}

func (e *falcoctlEnv) run(args ...string) result {
	e.t.Helper()
	return runCommand(e.t, e.cmd(args...))
}

// jsonLines checks every line of stderr is one JSON object with falcoctl's
// logger fields, and returns them.
func jsonLines(t *testing.T, stderr string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("stderr line is not JSON: %q", l)
			continue
		}
		for _, k := range []string{"level", "timestamp", "msg"} {
			if _, ok := m[k]; !ok {
				t.Errorf("log line lacks %q: %s", k, l)
			}
		}
		out = append(out, m)
	}
	return out
}

// falcoTestdata reads a file of e2e/testdata/falco.
func falcoTestdata(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "falco", path))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// falcoRegistry is a registry process with the artifacts Falco's files
// name: falco-rules 5.0.0 and the container plugin 0.7.1, an index server
// naming falco-rules as falcoctl's index does, and a /versions endpoint.
type falcoRegistry struct {
	Host, IndexURL, VersionsURL string
}

func startFalcoRegistry(t *testing.T, e *falcoctlEnv) *falcoRegistry {
	t.Helper()
	reg := startRegistry(t, "")
	pushFalcoRules(t, e, reg.Host, "5.0.0")
	amd := e.write("src/amd64/libcontainer.so", "container 0.7.1 amd64")
	arm := e.write("src/arm64/libcontainer.so", "container 0.7.1 arm64")
	e.ok("artifact", "push", reg.Host+"/falcosecurity/plugins/plugin/container", amd, arm, "--type", "plugin", "--version", "0.7.1",
		"--platform", "linux/amd64", "--platform", "linux/arm64")
	index := fmt.Sprintf(`- name: falco-rules
  type: rulesfile
  registry: %s
  repository: falcosecurity/rules/falco-rules
  description: Falco rules that are loaded by default
  home: https://github.com/falcosecurity/rules/blob/main/rules/falco_rules.yaml
  keywords: [falco-rules]
  license: apache-2.0
  maintainers:
  - email: cncf-falco-dev@lists.cncf.io
    name: The Falco Authors
  sources:
  - https://raw.githubusercontent.com/falcosecurity/rules/main/rules/falco_rules.yaml
`, reg.Host)
	mux := http.NewServeMux()
	mux.HandleFunc("/falcoctl/index.yaml", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(index)) })
	mux.HandleFunc("/versions", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"default_driver_version":"8.0.0+driver","engine_version":"0.47.0","engine_version_semver":"0.47.0","falco_version":"0.41.0","libs_version":"0.21.0","plugin_api_version":"3.10.0"}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &falcoRegistry{Host: reg.Host, IndexURL: srv.URL + "/falcoctl/index.yaml", VersionsURL: srv.URL + "/versions"}
}

func pushFalcoRules(t *testing.T, e *falcoctlEnv, host, version string) {
	t.Helper()
	src := e.write("src/falco_rules.yaml", "- rule: falco\n  desc: version "+version+"\n")
	e.ok("artifact", "push", host+"/falcosecurity/rules/falco-rules", src, "--type", "rulesfile", "--version", version, "--add-floating-tags")
}

// localize substitutes what points outside the test (see
// testdata/falco/README.md): the index URL, ghcr.io, Falco's /versions
// endpoint, and the directories given, e.g. "/rulesfiles" -> a temp dir.
func (r *falcoRegistry) localize(config string, dirs map[string]string) string {
	config = strings.ReplaceAll(config, "https://falcosecurity.github.io/falcoctl/index.yaml", r.IndexURL)
	config = strings.ReplaceAll(config, "ghcr.io", r.Host)
	config = strings.ReplaceAll(config, "http://localhost:8765/versions", r.VersionsURL)
	for from, to := range dirs {
		config = strings.ReplaceAll(config, ": "+from+"\n", ": "+to+"\n")
	}
	return config
}

// chartArgs returns the args of the chart's init container or sidecar as
// _helpers.tpl writes them ("artifact", "install"|"follow") followed by
// values.yaml's falcoctl.artifact.<which>.args.
func chartArgs(t *testing.T, which string) []string {
	t.Helper()
	helpers := falcoTestdata(t, "charts/falco/templates/_helpers.tpl")
	if !strings.Contains(helpers, "    - artifact\n    - "+which+"\n  {{- with .Values.falcoctl.artifact."+which+".args }}") {
		t.Fatalf("_helpers.tpl does not run falcoctl artifact %s with .Values.falcoctl.artifact.%s.args", which, which)
	}
	var values struct {
		Falcoctl struct {
			Artifact map[string]struct {
				Args []string `yaml:"args"`
			} `yaml:"artifact"`
		} `yaml:"falcoctl"`
	}
	if err := yaml.Unmarshal([]byte(falcoTestdata(t, "charts/falco/values.yaml")), &values); err != nil {
		t.Fatal(err)
	}
	return append([]string{"artifact", which}, values.Falcoctl.Artifact[which].Args...)
}

// TestChartRenderedConfig checks rendered/falcoctl.yaml against the chart:
// values.yaml's falcoctl.config with the container plugin's ref appended by
// the falco.containerPlugin helper.
func TestChartRenderedConfig(t *testing.T) {
	t.Parallel()
	var values struct {
		Falcoctl struct {
			Config map[string]any `yaml:"config"`
		} `yaml:"falcoctl"`
		Driver struct {
			Enabled bool `yaml:"enabled"`
		} `yaml:"driver"`
		Collectors struct {
			Enabled         bool `yaml:"enabled"`
			ContainerEngine struct {
				Enabled   bool   `yaml:"enabled"`
				PluginRef string `yaml:"pluginRef"`
			} `yaml:"containerEngine"`
			Kubernetes struct {
				Enabled bool `yaml:"enabled"`
			} `yaml:"kubernetes"`
		} `yaml:"collectors"`
	}
	if err := yaml.Unmarshal([]byte(falcoTestdata(t, "charts/falco/values.yaml")), &values); err != nil {
		t.Fatal(err)
	}
	// The helpers' conditions, with the default values: falco.containerPlugin
	// appends its ref; k8smeta.configuration adds nothing.
	if !values.Driver.Enabled || !values.Collectors.Enabled || !values.Collectors.ContainerEngine.Enabled || values.Collectors.Kubernetes.Enabled {
		t.Fatalf("values.yaml's defaults changed: %+v %+v", values.Driver, values.Collectors)
	}
	want := values.Falcoctl.Config
	install := want["artifact"].(map[string]any)["install"].(map[string]any)
	install["refs"] = append(install["refs"].([]any), values.Collectors.ContainerEngine.PluginRef)
	var got map[string]any
	if err := yaml.Unmarshal([]byte(falcoTestdata(t, "rendered/falcoctl.yaml")), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rendered/falcoctl.yaml is not values.yaml's falcoctl.config:\n got %v\nwant %v", got, want)
	}
	if cm := falcoTestdata(t, "charts/falco/templates/falcoctl-configmap.yaml"); !strings.Contains(cm, `{{- include "falco.containerPlugin" . -}}`) {
		t.Errorf("the configmap template no longer includes falco.containerPlugin")
	}
}

// TestFalcoctlChart runs the chart's init container and sidecar: their
// exact arguments, with the rendered ConfigMap as the config file.
func TestFalcoctlChart(t *testing.T) {
	t.Parallel()
	e := newFalcoctlEnv(t)
	reg := startFalcoRegistry(t, e)
	dirs := map[string]string{"/rulesfiles": e.path("pod", "rulesfiles"), "/plugins": e.path("pod", "plugins"), "/artifactstate": e.path("pod", "artifactstate")}
	config := e.write("pod/etc/falcoctl/falcoctl.yaml", reg.localize(falcoTestdata(t, "rendered/falcoctl.yaml"), dirs))
	e.vars = append(e.vars, "FERRY_CONFIG="+config)

	// The init container.
	r := e.run(chartArgs(t, "install")...)
	if r.Code != 0 {
		t.Fatalf("init container: exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	jsonLines(t, r.Stderr)
	// The pod's log is stdout and stderr together: every line parses.
	installed := map[string]string{}
	for _, l := range jsonLines(t, r.Stdout) {
		if l["msg"] == "Artifact successfully installed" {
			installed[l["name"].(string)] = l["version"].(string)
		}
	}
	if installed["falcosecurity/falco-rules"] != "5.0.0" || installed["container"] != "0.7.1" {
		t.Errorf("init container's results: %v\n%s", installed, r.Stdout)
	}
	if got := e.read("pod", "rulesfiles", "falco_rules.yaml"); !strings.Contains(got, "version 5.0.0") {
		t.Errorf("falco_rules.yaml: %q", got)
	}
	if got := e.read("pod", "plugins", "libcontainer.so"); !strings.HasPrefix(got, "container 0.7.1 ") {
		t.Errorf("libcontainer.so: %q", got)
	}
	if _, err := os.Stat(dirs["/artifactstate"]); err != nil {
		t.Errorf("state dir: %v", err)
	}

	// The sidecar, as falcoctl.artifact.follow.env could set it: a check
	// every second instead of a week.
	e.vars = append(e.vars, "FALCOCTL_ARTIFACT_FOLLOW_EVERY=1s")
	fw := startFollower(t, e.cmd(chartArgs(t, "follow")...))
	fw.waitFor("a first check", func() bool { return strings.Contains(fw.stderr.String(), `"msg":"check done"`) })
	pushFalcoRules(t, e, reg.Host, "5.0.1")
	fw.waitFor("falco-rules 5.0.1", func() bool {
		data, _ := os.ReadFile(filepath.Join(dirs["/rulesfiles"], "falco_rules.yaml"))
		return strings.Contains(string(data), "version 5.0.1")
	})
	fw.stop()
	updated := false
	for _, l := range jsonLines(t, fw.stdout.String()) {
		updated = updated || (l["version"] == "5.0.1" && l["previousVersion"] == "5.0.0")
	}
	if !updated {
		t.Errorf("sidecar stdout: %s", fw.stdout)
	}
	lines := jsonLines(t, fw.stderr.String())
	if len(lines) < 2 || lines[0]["msg"] != "following" {
		t.Errorf("sidecar log: %s", fw.stderr)
	}
}

// TestFalcoctlPackage runs the systemd unit's command line with the
// package's falcoctl.yaml.in, filled as Falco's CMake fills it.
func TestFalcoctlPackage(t *testing.T) {
	t.Parallel()
	e := newFalcoctlEnv(t)
	reg := startFalcoRegistry(t, e)
	in := falcoTestdata(t, "scripts/falcoctl/falcoctl.yaml.in")
	for k, v := range map[string]string{
		"@FALCOCTL_DRIVER_TYPES@": "modern_ebpf, kmod",
		"@DRIVER_NAME@":           "falco",
		"@DRIVERS_REPO@":          "https://download.falco.org/driver",
		"@DRIVER_VERSION@":        "c6e56483b4228bd5c9943cb26aea5f4312df0f03",
	} {
		in = strings.ReplaceAll(in, k, v)
	}
	config := e.write("etc/falcoctl/falcoctl.yaml", reg.localize(in, nil))
	e.vars = append(e.vars, "FERRY_CONFIG="+config)

	// The package's defaults, as falcoctl has them.
	r := e.run("config", "view", "-o", "json")
	if r.Code != 0 || r.Stderr != "" {
		t.Fatalf("config view: exit %d: %s%s", r.Code, r.Stdout, r.Stderr)
	}
	for _, want := range []string{
		`"key": "defaults.state-dir",` + "\n" + `      "value": "/var/lib/falcoctl"`,
		`"key": "defaults.rulesfiles-dir",` + "\n" + `      "value": "/etc/falco"`,
		`"key": "defaults.plugins-dir",` + "\n" + `      "value": "/usr/share/falco/plugins"`,
		`"key": "driver.type",` + "\n" + `      "value": "modern_ebpf,kmod"`,
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("config view lacks %s:\n%s", want, r.Stdout)
		}
	}

	unit := falcoTestdata(t, "scripts/systemd/falcoctl-artifact-follow.service")
	var execStart string
	for _, l := range strings.Split(unit, "\n") {
		if v, ok := strings.CutPrefix(l, "ExecStart="); ok {
			execStart = v
		}
	}
	argv := strings.Fields(execStart)
	if len(argv) < 2 || argv[0] != "/usr/bin/falcoctl" {
		t.Fatalf("ExecStart: %q", execStart)
	}
	// The default paths are the machine's; the test moves them with
	// falcoctl's own variables, and checks every second.
	e.vars = append(e.vars,
		"FALCOCTL_ARTIFACT_FOLLOW_RULESFILESDIR="+e.path("etc", "falco"),
		"FALCOCTL_ARTIFACT_FOLLOW_PLUGINSDIR="+e.path("usr", "share", "falco", "plugins"),
		"FALCOCTL_ARTIFACT_FOLLOW_STATEDIR="+e.path("var", "lib", "falcoctl"),
		"FALCOCTL_ARTIFACT_FOLLOW_EVERY=1s")
	fw := startFollower(t, e.cmd(argv[1:]...))
	fw.waitFor("falco-rules 5.0.0", func() bool {
		data, _ := os.ReadFile(e.path("etc", "falco", "falco_rules.yaml"))
		return strings.Contains(string(data), "version 5.0.0")
	})
	pushFalcoRules(t, e, reg.Host, "5.0.1")
	fw.waitFor("falco-rules 5.0.1", func() bool {
		data, _ := os.ReadFile(e.path("etc", "falco", "falco_rules.yaml"))
		return strings.Contains(string(data), "version 5.0.1")
	})
	fw.stop()
	if _, err := os.Stat(e.path("var", "lib", "falcoctl")); err != nil {
		t.Errorf("state dir: %v", err)
	}
	if strings.Contains(fw.stderr.String(), "unknown key") {
		t.Errorf("the package's config has keys ferry does not know: %s", fw.stderr)
	}
}
