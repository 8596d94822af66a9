package e2e

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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
