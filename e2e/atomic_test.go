package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/testutil"
)

func TestReinstallDownloadsNothing(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	publishRules(t, e, reg.Host+"/acme/rules/my-rules", "1.0.0", "1.1.0")
	addIndex(t, e, "acme", rulesIndex(reg.Host))
	e.ok("artifact", "install", "rules:1.x")

	reg.Reset()
	r := e.ok("artifact", "install", "rules:1.1.0")
	if !strings.Contains(r.Stdout, "up to date") {
		t.Errorf("reinstall: %s", r.Stdout)
	}
	if blobs, all := reg.Count("GET", "/blobs/"), len(reg.Requests()); blobs != 0 || all != 1 {
		t.Errorf("exact reinstall made %d requests (%d blob GETs), want 1 manifest request: %v", all, blobs, reg.Requests())
	}
	reg.Reset()
	e.ok("artifact", "install", "rules:1.x")
	// The tag list only: 1.1.0 is a version tag, its manifest the recorded one.
	if blobs, all := reg.Count("GET", "/blobs/"), len(reg.Requests()); blobs != 0 || all != 1 {
		t.Errorf("range reinstall made %d requests (%d blob GETs), want the tag list: %v", all, blobs, reg.Requests())
	}
	// A deleted installed file is noticed and installed again.
	if err := os.Remove(e.path("falco", "my_rules.yaml")); err != nil {
		t.Fatal(err)
	}
	if r := e.ok("artifact", "install", "rules:1.x"); !strings.Contains(r.Stdout, "Installed") {
		t.Errorf("missing file not reinstalled: %s", r.Stdout)
	}
	if got := e.read("falco", "my_rules.yaml"); !strings.Contains(got, "1.1.0") {
		t.Errorf("reinstalled file: %q", got)
	}
}

func TestConcurrentInstalls(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, "")
	e := newEnv(t)
	publishRules(t, e, reg.Host+"/acme/rules/my-rules", "1.0.0", "1.1.0")
	addIndex(t, e, "acme", rulesIndex(reg.Host))
	var wg sync.WaitGroup
	results := make([]result, 6)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.ferry("artifact", "install", []string{"rules:1.0.0", "rules:1.1.0"}[i%2])
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.Code != 0 {
			t.Errorf("install %d: exit %d: %s", i, r.Code, r.Stderr)
		}
	}
	var state struct{ Artifacts []struct{ Version string } }
	if err := json.Unmarshal([]byte(e.read("state", "state.json")), &state); err != nil {
		t.Fatal(err)
	}
	if len(state.Artifacts) != 1 {
		t.Fatalf("state has %d records", len(state.Artifacts))
	}
	if got := e.read("falco", "my_rules.yaml"); !strings.Contains(got, "version "+state.Artifacts[0].Version) {
		t.Errorf("file %q disagrees with state version %s", got, state.Artifacts[0].Version)
	}
	assertNoLitter(t, e.path("falco"))
}

func TestKillDuringInstall(t *testing.T) {
	t.Parallel()
	reg := testutil.NewRegistry(t)
	e := newEnv(t)
	repo := reg.Host + "/acme/rules/my-rules"
	publishRules(t, e, repo, "1.0.0")
	// Version 2 is large and incompressible, so its download takes a while.
	noise := make([]byte, 12<<20)
	_, _ = rand.Read(noise)
	big := "- rule: big\n  desc: " + base64.StdEncoding.EncodeToString(noise) + "\n"
	e.write("src/big/my_rules.yaml", big)
	e.ok("artifact", "push", repo, e.path("src/big/my_rules.yaml"), "--type", "rulesfile", "--version", "2.0.0")
	addIndex(t, e, "acme", rulesIndex(reg.Host))
	e.ok("artifact", "install", "rules:1.0.0")

	// Serve blobs slowly: 64 KiB every 10 ms.
	reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") {
			return false
		}
		a := reg.Answer(r)
		a.WriteHeader(w)
		body := a.Body
		for len(body) > 0 && r.Context().Err() == nil {
			n := min(len(body), 64<<10)
			_, _ = w.Write(body[:n])
			_ = http.NewResponseController(w).Flush()
			body = body[n:]
			time.Sleep(10 * time.Millisecond)
		}
		return true
	})
	cmd := exec.Command(ferryBin, "artifact", "install", "rules:2.0.0")
	cmd.Env = e.vars
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once the new version is being written to the staging area.
	deadline := time.Now().Add(30 * time.Second)
	for !stagingHasData(e.path("falco")) {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("install never started writing")
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	reg.SetFault(nil)

	if got := e.read("falco", "my_rules.yaml"); !strings.Contains(got, "version 1.0.0") {
		t.Fatalf("old version damaged after kill -9: %.40q", got)
	}
	r := e.ok("artifact", "install", "rules:1.0.0")
	if !strings.Contains(r.Stdout, "up to date") {
		t.Errorf("state disagrees with files after kill -9: %s", r.Stdout)
	}
	assertNoLitter(t, e.path("falco"))
	e.ok("artifact", "install", "rules:2.0.0", "--max-size", "100000000")
	if got := e.read("falco", "my_rules.yaml"); got != big {
		t.Errorf("new version after recovery is not the pushed content (%d bytes)", len(got))
	}
}

func stagingHasData(dir string) bool {
	found := false
	_ = filepath.WalkDir(filepath.Join(dir, ".ferry-staging"), func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil && fi.Size() > 0 {
				found = true
			}
		}
		return nil
	})
	return found
}
