package install_test

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

// overlapFixture publishes rules r 1.0.0 that depend on plugin p 0.7.0,
// and p 0.7.0 and 0.7.1 for two platforms with floating tags ("0" names
// 0.7.1). blobs maps every config and layer digest to "p 0.7.0
// linux/arm64 layer" and the like.
type overlapFixture struct {
	*fixture
	rules, plugin oci.Location
	blobs         map[string]string
	entries       []index.Entry
}

func newOverlapFixture(t *testing.T, pluginRequires string) *overlapFixture {
	t.Helper()
	f := &overlapFixture{fixture: newFixture(t), blobs: map[string]string{}}
	f.rules = oci.Location{Registry: f.reg.Host, Repository: "acme/rules/r"}
	f.plugin = oci.Location{Registry: f.reg.Host, Repository: "acme/plugins/plugin/p"}
	for _, v := range []string{"0.7.0", "0.7.1"} {
		f.pushPlugin(t, v, true, pluginRequires)
	}
	cfg := oci.Config{Name: "r", Version: "1.0.0", Dependencies: []oci.Dependency{{Name: "p", Version: "0.7.0"}}}
	files := []oci.LayerFile{{Path: writeTemp(t, "r.yaml", "- rule: r\n")}}
	if _, err := f.client.Push(context.Background(), f.rules, oci.PushRequest{Type: oci.TypeRulesfile, Config: cfg, Files: files}); err != nil {
		t.Fatal(err)
	}
	f.label(t, f.rules, "r", "1.0.0", "")
	f.entries = []index.Entry{
		{Name: "r", Type: "rulesfile", Registry: f.rules.Registry, Repository: f.rules.Repository},
		{Name: "p", Type: "plugin", Registry: f.plugin.Registry, Repository: f.plugin.Repository},
	}
	return f
}

func (f *overlapFixture) pushPlugin(t *testing.T, v string, floating bool, requires string) {
	t.Helper()
	cfg := oci.Config{Name: "p", Version: v}
	if requires != "" {
		cfg.Requirements = []oci.Requirement{{Name: "plugin_api_version", Version: requires}}
	}
	var files []oci.LayerFile
	for _, pl := range []string{"linux/amd64", "linux/arm64"} {
		files = append(files, oci.LayerFile{Path: writeTemp(t, "libp.so", v+" "+pl), Platform: pl})
	}
	req := oci.PushRequest{Type: oci.TypePlugin, Config: cfg, Files: files, FloatingTags: floating}
	if _, err := f.client.Push(context.Background(), f.plugin, req); err != nil {
		t.Fatal(err)
	}
	for _, pl := range []string{"linux/amd64", "linux/arm64"} {
		f.label(t, f.plugin, "p", v, pl)
	}
}

// label records the config and layer digests of name v (on platform).
func (f *overlapFixture) label(t *testing.T, loc oci.Location, name, v, platform string) {
	t.Helper()
	ctx := context.Background()
	root, err := f.client.FetchRoot(ctx, loc, v)
	if err != nil {
		t.Fatal(err)
	}
	art, err := f.client.Resolve(ctx, root, platform)
	if err != nil {
		t.Fatal(err)
	}
	what := strings.TrimSpace(name + " " + v + " " + platform)
	f.blobs[art.Config.Digest.String()] = strings.TrimSpace(name+" "+v) + " config"
	f.blobs[art.Layer.Digest.String()] = what + " layer"
}

// fetched lists the blobs the registry served, by label.
func (f *overlapFixture) fetched() map[string]bool {
	out := map[string]bool{}
	for _, r := range f.reg.Requests() {
		if r.Method != http.MethodGet || !strings.Contains(r.Path, "/blobs/") {
			continue
		}
		d := r.Path[strings.LastIndex(r.Path, "/")+1:]
		if l, ok := f.blobs[d]; ok {
			out[l] = true
		} else {
			out[d] = true
		}
	}
	return out
}

func (f *overlapFixture) installer() *install.Installer {
	in := f.fixture.installer(f.entries, "linux/amd64")
	in.ResolveDeps = true
	return in
}

// A dependency's floating tag is resolved while its tags are listed: the
// platform manifest of what "0" names is requested before the registry
// has answered the manifest request of the version tag the solver picks
// (0.7.1), so the two overlap; and only the blobs of the plan are fetched.
func TestDependencyManifestsOverlap(t *testing.T) {
	f := newOverlapFixture(t, "")
	platformAsked := make(chan struct{})
	var once sync.Once
	overlapped := make(chan bool, 1)
	f.reg.SetFault(func(w http.ResponseWriter, req *http.Request) bool {
		path := req.URL.Path
		if !strings.Contains(path, "/"+f.plugin.Repository+"/manifests/") {
			return false
		}
		ref := path[strings.LastIndex(path, "/")+1:]
		switch {
		case strings.HasPrefix(ref, "sha256:"):
			once.Do(func() { close(platformAsked) })
		case ref == "0.7.1":
			// Held until the platform manifest is asked for: a planner
			// that waits for this answer first never asks, and the
			// bounded wait below ends with the overlap missing.
			select {
			case <-platformAsked:
				overlapped <- true
			case <-time.After(10 * time.Second):
				overlapped <- false
			}
		}
		return false
	})
	results, err := f.installer().Install(context.Background(), install.Request{Refs: []string{"r:1.0.0"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || results[0].Name != "p" || results[0].Version != "0.7.1" || results[1].Name != "r" {
		t.Fatalf("results: %+v", results)
	}
	select {
	case ok := <-overlapped:
		if !ok {
			t.Error("the platform manifest was requested only after the version tag's manifest was answered")
		}
	default:
		t.Error("the version tag 0.7.1 was never requested")
	}
	got := f.fetched()
	for _, want := range []string{"r 1.0.0 config", "r 1.0.0 layer", "p 0.7.1 config", "p 0.7.1 linux/amd64 layer"} {
		if !got[want] {
			t.Errorf("%s not fetched (fetched: %v)", want, got)
		}
		delete(got, want)
	}
	if len(got) > 0 {
		t.Errorf("fetched blobs the plan does not contain: %v", got)
	}
	if b, err := os.ReadFile(filepath.Join(f.dirs[oci.TypePlugin], "libp.so")); err != nil || string(b) != "0.7.1 linux/amd64" {
		t.Errorf("libp.so = %q, %v", b, err)
	}
}

// When the floating tag names another version than the one picked (0.7.2
// was pushed without moving "0"), the guess costs manifest requests only:
// no config or layer of 0.7.1 is fetched.
func TestDependencyStaleFloatingTag(t *testing.T) {
	f := newOverlapFixture(t, "")
	f.pushPlugin(t, "0.7.2", false, "")
	f.reg.Reset()
	results, err := f.installer().Install(context.Background(), install.Request{Refs: []string{"r:1.0.0"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || results[0].Version != "0.7.2" {
		t.Fatalf("results: %+v", results)
	}
	got := f.fetched()
	for l := range got {
		if strings.HasPrefix(l, "p 0.7.1") || strings.HasPrefix(l, "p 0.7.0") {
			t.Errorf("fetched %s, which the plan does not contain", l)
		}
	}
	if !got["p 0.7.2 linux/amd64 layer"] {
		t.Errorf("0.7.2's layer not fetched: %v", got)
	}
	floating := 0
	for _, r := range f.reg.Requests() {
		if strings.HasSuffix(r.Path, f.plugin.Repository+"/manifests/0") {
			floating++
		}
	}
	if floating != 1 {
		t.Errorf("the floating tag was not looked up once: %v", f.reg.Requests())
	}
}

// When resolution fails (no version of the dependency meets the engine),
// nothing is written into place and no staging directory is left; the
// guessed floating tag fetched no blob of its own.
func TestDependencyOverlapResolutionFails(t *testing.T) {
	f := newOverlapFixture(t, "9.0.0")
	f.reg.Reset()
	in := f.installer()
	_, err := in.Install(context.Background(), install.Request{Refs: []string{"r:1.0.0"}, Engine: install.Engine{"plugin_api_version": "3.0.0"}})
	if !errors.Is(err, install.ErrRequirement) {
		t.Fatalf("err = %v, want a requirement error", err)
	}
	for _, dir := range f.dirs {
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		if len(entries) > 0 {
			t.Errorf("%s holds %v after a failed resolution", dir, entries)
		}
	}
	for l := range f.fetched() {
		if strings.Contains(l, "arm64") || strings.HasPrefix(l, "sha256:") {
			t.Errorf("fetched %s", l)
		}
	}
	if _, err := os.Stat(filepath.Join(f.state, "state.json")); err == nil {
		t.Error("a state was written")
	}
}

// A rules file named after a plugin of the index (p-rules and p, as
// k8saudit-rules and k8saudit) has that plugin's tags listed and its
// highest version's manifest fetched while the rules' own config, which
// names the dependency, is still on its way: here the config is held
// until both were asked for, which a planner that waits for the config
// never does.
func TestLikelyPluginWarmedBeforeTheConfig(t *testing.T) {
	f := newOverlapFixture(t, "")
	f.entries[0].Name = "p-rules"
	var cfgDigest string
	for d, l := range f.blobs {
		if l == "r 1.0.0 config" {
			cfgDigest = d
		}
	}
	tagsAsked, manifestAsked := make(chan struct{}), make(chan struct{})
	var tagsOnce, manifestOnce sync.Once
	overlapped := make(chan bool, 1)
	f.reg.SetFault(func(w http.ResponseWriter, req *http.Request) bool {
		path := req.URL.Path
		switch {
		case strings.HasSuffix(path, f.plugin.Repository+"/tags/list"):
			tagsOnce.Do(func() { close(tagsAsked) })
		case strings.HasSuffix(path, f.plugin.Repository+"/manifests/0.7.1"):
			manifestOnce.Do(func() { close(manifestAsked) })
		case strings.HasSuffix(path, "/blobs/"+cfgDigest):
			timeout := time.After(10 * time.Second)
			for _, ch := range []chan struct{}{tagsAsked, manifestAsked} {
				select {
				case <-ch:
				case <-timeout:
					overlapped <- false
					return false
				}
			}
			overlapped <- true
		}
		return false
	})
	f.reg.Reset()
	results, err := f.installer().Install(context.Background(), install.Request{Refs: []string{"p-rules:1.0.0"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || results[0].Name != "p" || results[0].Version != "0.7.1" || results[1].Name != "p-rules" {
		t.Fatalf("results: %+v", results)
	}
	if ok := <-overlapped; !ok {
		t.Error("the plugin's tags and manifest were asked for only after the rules' config was answered")
	}
	got := f.fetched()
	for _, want := range []string{"r 1.0.0 config", "r 1.0.0 layer", "p 0.7.1 config", "p 0.7.1 linux/amd64 layer"} {
		delete(got, want)
	}
	if len(got) > 0 {
		t.Errorf("fetched blobs the plan does not contain: %v", got)
	}
	// Known early, its floating tag is not guessed as well.
	for _, r := range f.reg.Requests() {
		if strings.HasSuffix(r.Path, f.plugin.Repository+"/manifests/0") {
			t.Errorf("floating tag looked up: %v", r)
		}
	}
}

// A rules file named after a plugin it does not depend on: the guess
// lists the plugin's tags and resolves its manifests, and nothing of it
// is downloaded or installed.
func TestLikelyPluginWrongGuess(t *testing.T) {
	f := newOverlapFixture(t, "")
	lone := oci.Location{Registry: f.reg.Host, Repository: "acme/rules/lone"}
	files := []oci.LayerFile{{Path: writeTemp(t, "lone.yaml", "- rule: lone\n")}}
	if _, err := f.client.Push(context.Background(), lone, oci.PushRequest{Type: oci.TypeRulesfile, Config: oci.Config{Name: "p-rules", Version: "1.0.0"}, Files: files}); err != nil {
		t.Fatal(err)
	}
	f.label(t, lone, "lone", "1.0.0", "")
	f.entries = append(f.entries, index.Entry{Name: "p-rules", Type: "rulesfile", Registry: lone.Registry, Repository: lone.Repository})
	f.reg.Reset()
	results, err := f.installer().Install(context.Background(), install.Request{Refs: []string{"p-rules:1.0.0"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || results[0].Name != "p-rules" {
		t.Fatalf("results: %+v", results)
	}
	if f.reg.Count(http.MethodGet, f.plugin.Repository+"/tags/list") != 1 {
		t.Errorf("the likely plugin's tags were not listed once: %v", f.reg.Requests())
	}
	for l := range f.fetched() {
		if strings.HasPrefix(l, "p ") || strings.HasPrefix(l, "sha256:") {
			t.Errorf("fetched %s", l)
		}
	}
	if entries, err := os.ReadDir(f.dirs[oci.TypePlugin]); err == nil && len(entries) > 0 {
		t.Errorf("plugins dir holds %v", entries)
	}
}
