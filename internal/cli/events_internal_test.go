package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"

	"github.com/ferryhq/ferry/pkg/events"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

func TestEventArtifactFromResult(t *testing.T) {
	d := digest.FromString("x").String()
	r := install.Result{
		Ref: "mine/k8saudit:0.x", Name: "k8saudit", Index: "mine", Type: "plugin", Version: "0.7.0", Tag: "0.7.0",
		Registry: "ghcr.io", Repository: "falcosecurity/plugins/plugin/k8saudit", Digest: d, Platform: "linux/amd64",
		Dir: "/usr/share/falco/plugins", Files: []string{"libk8saudit.so"}, Status: install.StatusInstalled,
		Bytes: 42, Duration: time.Second, Source: "oci://ghcr.io/falcosecurity/plugins/plugin/k8saudit",
	}
	got := eventArtifact(r, "robot")
	want := events.Artifact{
		Name: "k8saudit", Index: "mine", Version: "0.7.0", Constraint: "0.x", Ref: "mine/k8saudit:0.x",
		Registry: "ghcr.io", Repository: "falcosecurity/plugins/plugin/k8saudit", Tag: "0.7.0", Digest: d, Platform: "linux/amd64",
		ServedBy: "oci://ghcr.io/falcosecurity/plugins/plugin/k8saudit", Path: "/usr/share/falco/plugins/libk8saudit.so",
		Bytes: 42, Duration: time.Second, User: "robot",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if p, err := events.PURL(got); err != nil || !strings.Contains(p, "arch=amd64") {
		t.Errorf("PURL = %q, %v", p, err)
	}
}

func TestPushedArtifact(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(file, []byte("- rule: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res := &oci.PushResult{Digest: digest.FromString("m"), Tags: []string{"1.2.3", "1.2", "1"}}
	got := pushedArtifact(oci.Location{Registry: "localhost:5000", Repository: "org/rules"}, "rules", "1.2.3", res, []string{file}, time.Second, "")
	if got.Tag != "1.2.3" || got.Digest != res.Digest.String() || got.Bytes != 10 || got.Path != file {
		t.Errorf("%+v", got)
	}
	if _, err := events.PURL(got); err != nil {
		t.Error(err)
	}
}
