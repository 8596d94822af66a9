package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/internal/testutil"
)

func sha256Digest(b []byte) string { s := sha256.Sum256(b); return fmt.Sprintf("sha256:%x", s) }

// registryGet reads a manifest or blob from a plain-HTTP registry, as a
// second opinion on what ferry printed.
func registryGet(t *testing.T, host, path, accept string) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+host+"/v2/"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v\n%s", path, resp.StatusCode, err, body)
	}
	return body
}

func TestArtifactManifestAndConfig(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	publishRules(t, e, reg.Host+"/acme/rules/my-rules", "1.0.0", "1.1.0", "2.0.0")
	amd := e.write("src/plug-amd64.so", "amd64 plugin")
	arm := e.write("src/plug-arm64.so", "arm64 plugin")
	e.ok("artifact", "push", reg.Host+"/acme/plugins/plugin/plug", amd, arm, "--type", "plugin", "--version", "0.3.0",
		"--platform", "linux/amd64", "--platform", "linux/arm64", "--requires", "plugin_api_version:3.0.0")
	addIndex(t, e, "acme", rulesIndex(reg.Host))

	// A constraint over an index name: the manifest of 1.1.0, byte for byte.
	r := e.ok("artifact", "manifest", "rules:1.x")
	want := registryGet(t, reg.Host, "acme/rules/my-rules/manifests/1.1.0", "application/vnd.oci.image.manifest.v1+json")
	if r.Stdout != string(want)+"\n" {
		t.Errorf("manifest:\n%s\nregistry has:\n%s", r.Stdout, want)
	}
	// A full OCI reference, and -o json prints the same document.
	if r2 := e.ok("artifact", "manifest", reg.Host+"/acme/rules/my-rules:1.1.0", "-o", "json"); r2.Stdout != r.Stdout {
		t.Errorf("manifest of the full reference differs:\n%s", r2.Stdout)
	}
	// The config blob of that manifest.
	var m struct {
		Config struct{ Digest string }
		Layers []struct{ MediaType string }
	}
	if err := json.Unmarshal(want, &m); err != nil {
		t.Fatal(err)
	}
	r = e.ok("artifact", "config", "rules:1.x")
	cfg := registryGet(t, reg.Host, "acme/rules/my-rules/blobs/"+m.Config.Digest, "")
	if r.Stdout != string(cfg)+"\n" || sha256Digest(cfg) != m.Config.Digest {
		t.Errorf("config: %q, registry blob %q (%s)", r.Stdout, cfg, m.Config.Digest)
	}
	if !strings.Contains(r.Stdout, `"version":"1.1.0"`) {
		t.Errorf("config of 1.1.0 does not say so: %s", r.Stdout)
	}

	// A plugin: the manifest of the platform asked for, from its image index.
	var idx struct {
		Manifests []struct {
			Digest   string
			Platform struct{ OS, Architecture string }
		}
	}
	if err := json.Unmarshal(registryGet(t, reg.Host, "acme/plugins/plugin/plug/manifests/0.3.0", "application/vnd.oci.image.index.v1+json"), &idx); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"amd64", "arm64"} {
		r = e.ok("artifact", "manifest", "plug", "--platform", "linux/"+p)
		got := sha256Digest([]byte(strings.TrimSuffix(r.Stdout, "\n")))
		found := false
		for _, d := range idx.Manifests {
			found = found || (d.Platform.Architecture == p && d.Digest == got)
		}
		if !found || !strings.Contains(r.Stdout, "plug-"+p+".so") {
			t.Errorf("manifest for linux/%s (%s) is not the index's:\n%s", p, got, r.Stdout)
		}
		r = e.ok("artifact", "config", "plug:0.x", "--platform", "linux/"+p)
		if !strings.Contains(r.Stdout, `"requirements":[{"name":"plugin_api_version","version":"3.0.0"}]`) {
			t.Errorf("plugin config: %s", r.Stdout)
		}
	}

	// Errors: a platform the index lacks (3), an unknown name (3), a bad
	// platform (2), a missing argument (2).
	oneLine(t, e.ferry("artifact", "manifest", "plug", "--platform", "linux/s390x"), 3, "linux/s390x", "linux/amd64, linux/arm64")
	oneLine(t, e.ferry("artifact", "config", "nope"), 3, "nope")
	oneLine(t, e.ferry("artifact", "config", "rules", "--platform", "linux"), 2, "OS/ARCH")
	oneLine(t, e.ferry("artifact", "manifest"), 2)
	oneLine(t, e.ferry("artifact", "manifest", "rules:9.x"), 3, "2.0.0")
}

func TestIndexAddBackend(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	path := e.write("idx.yaml", rulesIndex(reg.Host))
	// falcoctl's optional third argument, for the backends ferry fetches.
	e.ok("index", "add", "byfile", "file://"+path, "file")
	e.ok("index", "add", "bypath", path, "FILE")
	r := e.ok("index", "list")
	for _, n := range []string{"byfile", "bypath"} {
		if !strings.Contains(r.Stdout, n) {
			t.Errorf("index list lacks %s:\n%s", n, r.Stdout)
		}
	}
	// Backends ferry does not fetch from are named, exit 2, nothing added.
	oneLine(t, e.ferry("index", "add", "g", "gs://bucket/index.yaml"), 2, `"gcs"`, "not supported")
	oneLine(t, e.ferry("index", "add", "g", "https://storage.googleapis.com/b/index.yaml", "gcs"), 2, `"gcs"`)
	oneLine(t, e.ferry("index", "add", "s", "s3://bucket/index.yaml", "s3"), 2, `"s3"`)
	oneLine(t, e.ferry("index", "add", "x", path, "ftp"), 2, `"ftp"`, "http, https, file, gcs, s3")
	oneLine(t, e.ferry("index", "add", "h", path, "https"), 2, "https://")
	oneLine(t, e.ferry("index", "add", "a", path, "file", "extra"), 2)
	if r := e.ok("index", "list"); strings.Contains(r.Stdout, "\ng ") || strings.Contains(r.Stdout, "\ns ") || strings.Contains(r.Stdout, "\nh ") {
		t.Errorf("a refused index was added:\n%s", r.Stdout)
	}
}

func TestVersionOutput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var v struct{ Version, GoVersion, Platform string }
	if err := json.Unmarshal([]byte(e.ok("version", "-o", "json").Stdout), &v); err != nil || v.Version == "" || v.Platform == "" {
		t.Errorf("version -o json: %+v %v", v, err)
	}
	r := e.ok("version", "--output", "yaml")
	if !strings.Contains(r.Stdout, "version: "+v.Version+"\n") || !strings.Contains(r.Stdout, "platform: "+v.Platform+"\n") {
		t.Errorf("version -o yaml:\n%s", r.Stdout)
	}
	if r := e.ok("version"); !strings.HasPrefix(r.Stdout, "ferry "+v.Version+" (") {
		t.Errorf("version: %s", r.Stdout)
	}
	oneLine(t, e.ferry("version", "-o", "xml"), 2, "text, json or yaml")
}

func registryTags(t *testing.T, host, repo string) []string {
	t.Helper()
	var tl struct{ Tags []string }
	if err := json.Unmarshal(registryGet(t, host, repo+"/tags/list", ""), &tl); err != nil {
		t.Fatal(err)
	}
	sort.Strings(tl.Tags)
	return tl.Tags
}

// tagDigest is the digest a tag points at.
func tagDigest(t *testing.T, host, repo, tag string) string {
	t.Helper()
	return sha256Digest(registryGet(t, host, repo+"/manifests/"+tag, "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"))
}

// tarGzFiles lists the files of a .tar.gz with their content.
func tarGzFiles(t *testing.T, data []byte) map[string]string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[h.Name] = string(b)
	}
}

func TestRegistryPushAndPull(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	repo := "acme/rules/my-rules"
	ref := reg.Host + "/" + repo
	rules := e.write("src/my_rules.yaml", "- required_engine_version: 0.31.0\n- required_plugin_versions:\n  - name: json\n    version: 0.7.0\n- rule: r\n  desc: one\n")

	// falcoctl's usual call: REF:latest, --version in the config.
	r := e.ok("registry", "push", "--type", "rulesfile", "--version", "1.0.0", ref+":latest", rules)
	if !strings.Contains(r.Stdout, "Pushed "+ref+":1.0.0 (rulesfile)") {
		t.Errorf("push said:\n%s", r.Stdout)
	}
	if got := strings.Join(registryTags(t, reg.Host, repo), " "); got != "1.0.0 latest" {
		t.Errorf("tags after the first push: %s", got)
	}
	// The dependencies and requirement came from the rules file.
	r = e.ok("artifact", "config", ref+":1.0.0")
	for _, want := range []string{`"name":"my-rules"`, `"version":"1.0.0"`, `{"name":"json","version":"0.7.0"}`, `{"name":"engine_version_semver","version":"0.31.0"}`} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("config lacks %s: %s", want, r.Stdout)
		}
	}
	// Flags: -t, -d, -r, --annotation-source (not checked against the
	// repository path, as falcoctl does not), --add-floating-tags.
	e.ok("registry", "push", ref+":latest", rules, "--type", "rulesfile", "--version", "2.0.0", "-t", "stable", "--add-floating-tags",
		"-d", "k8saudit:0.7.0|json:0.8.0", "-r", "engine_version_semver:0.40.0", "--annotation-source", "https://example.com/elsewhere", "--name", "renamed")
	if got := strings.Join(registryTags(t, reg.Host, repo), " "); got != "1.0.0 2 2.0 2.0.0 latest stable" {
		t.Errorf("tags after 2.0.0: %s", got)
	}
	r = e.ok("artifact", "config", ref+":stable")
	for _, want := range []string{`"name":"renamed"`, `"alternatives":[{"name":"json","version":"0.8.0"}]`, `"version":"0.40.0"`} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("config of 2.0.0 lacks %s: %s", want, r.Stdout)
		}
	}
	if r := e.ok("artifact", "manifest", ref+":2.0.0"); !strings.Contains(r.Stdout, `"org.opencontainers.image.source":"https://example.com/elsewhere"`) {
		t.Errorf("manifest lacks the source annotation: %s", r.Stdout)
	}
	// No tag: falcoctl's latest, but never moved back below 2.0.0.
	e.ok("registry", "push", ref, rules, "--type", "rulesfile", "--version", "1.5.0", "--add-floating-tags")
	if got, want := tagDigest(t, reg.Host, repo, "latest"), tagDigest(t, reg.Host, repo, "2.0.0"); got != want {
		t.Errorf("latest moved to 1.5.0")
	}
	if got := strings.Join(registryTags(t, reg.Host, repo), " "); got != "1 1.0.0 1.5 1.5.0 2 2.0 2.0.0 latest stable" {
		t.Errorf("tags after 1.5.0: %s", got)
	}

	// A plugin for two platforms.
	amd := e.write("src/plug-amd64.so", "amd64 plugin")
	arm := e.write("src/plug-arm64.so", "arm64 plugin")
	e.ok("registry", "push", "--type", "plugin", "--version", "0.3.0", reg.Host+"/acme/plugins/plugin/plug:latest",
		amd, "--platform", "linux/amd64", arm, "--platform", "linux/arm64")

	// pull writes the layer file as it is in the registry.
	dest := e.path("pulled")
	r = e.ok("registry", "pull", ref+":1.0.0", "--dest-dir", dest)
	file := filepath.Join(dest, "my_rules.yaml.tar.gz")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v\n%s", err, r.Stdout)
	}
	var m struct {
		Layers []struct{ Digest string }
	}
	if err := json.Unmarshal(registryGet(t, reg.Host, repo+"/manifests/1.0.0", "application/vnd.oci.image.manifest.v1+json"), &m); err != nil {
		t.Fatal(err)
	}
	if sha256Digest(data) != m.Layers[0].Digest {
		t.Errorf("pulled file %s is not the layer %s", sha256Digest(data), m.Layers[0].Digest)
	}
	if got := tarGzFiles(t, data); !strings.Contains(got["my_rules.yaml"], "desc: one") {
		t.Errorf("pulled archive holds %v", got)
	}
	if !strings.Contains(r.Stdout, "file:   "+file) || !strings.Contains(r.Stdout, "Pulled my-rules 1.0.0 (rulesfile)") {
		t.Errorf("pull said:\n%s", r.Stdout)
	}
	// -o DIR, as falcoctl; an index name with a constraint; -o json.
	addIndex(t, e, "acme", rulesIndex(reg.Host))
	e.ok("registry", "pull", "rules:1.x", "-o", e.path("pulled2"))
	if got := tarGzFiles(t, []byte(e.read("pulled2", "my_rules.yaml.tar.gz"))); !strings.Contains(got["my_rules.yaml"], "desc: one") {
		t.Errorf("rules:1.x pulled %v", got)
	}
	r = e.ok("registry", "pull", "plug", "--platform", "linux/arm64", "--dest-dir", e.path("pulled3"), "-o", "json")
	var pr struct{ Path, Platform, Type, Version string }
	if err := json.Unmarshal([]byte(r.Stdout), &pr); err != nil || pr.Platform != "linux/arm64" || pr.Type != "plugin" || pr.Version != "0.3.0" {
		t.Errorf("pull -o json: %+v %v\n%s", pr, err, r.Stdout)
	}
	if got := tarGzFiles(t, []byte(e.read("pulled3", "plug-arm64.so.tar.gz"))); got["plug-arm64.so"] != "arm64 plugin" {
		t.Errorf("plugin pulled %v", got)
	}
	assertNoLitter(t, dest)

	// Errors.
	oneLine(t, e.ferry("registry", "push", ref, rules, "--type", "rulesfile"), 2, "--version")
	oneLine(t, e.ferry("registry", "push", ref+"@sha256:"+strings.Repeat("a", 64), rules, "--type", "rulesfile", "--version", "1.0.0"), 2, "digest")
	oneLine(t, e.ferry("registry", "pull", ref+":9.9.9", "--dest-dir", dest), 3)
	oneLine(t, e.ferry("registry", "pull", "plug", "--platform", "linux/s390x", "--dest-dir", dest), 3, "linux/arm64")
}
