package cmdutil

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestGCPRegistriesInTheConfigFile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	f := &Factory{Getenv: func(k string) string { return map[string]string{"FERRY_CONFIG": cfg}[k] }}

	// No file: none, and the first registration creates it.
	if hosts, err := f.GCPRegistries(); err != nil || hosts != nil {
		t.Fatalf("no file: %v %v", hosts, err)
	}
	if err := f.AddGCPRegistry("europe-docker.pkg.dev"); err != nil {
		t.Fatal(err)
	}
	// Keys are matched as viper matches them; what else the file holds stays.
	if err := os.WriteFile(cfg, []byte("# mine\nindexes:\n  - name: a\n    url: https://example.com/i.yaml\nRegistry:\n  Auth:\n    GCP: us-docker.pkg.dev;asia-docker.pkg.dev\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hosts, err := f.GCPRegistries()
	if err != nil || !slices.Equal(hosts, []string{"us-docker.pkg.dev", "asia-docker.pkg.dev"}) {
		t.Fatalf("string form: %v %v", hosts, err)
	}
	for range 2 {
		if err := f.AddGCPRegistry("europe-docker.pkg.dev"); err != nil {
			t.Fatal(err)
		}
	}
	hosts, err = f.GCPRegistries()
	if err != nil || !slices.Equal(hosts, []string{"us-docker.pkg.dev", "asia-docker.pkg.dev", "europe-docker.pkg.dev"}) {
		t.Errorf("after adding: %v %v", hosts, err)
	}
	data, _ := os.ReadFile(cfg)
	if !strings.Contains(string(data), "# mine") || !strings.Contains(string(data), "url: https://example.com/i.yaml") {
		t.Errorf("the rest of the file was lost:\n%s", data)
	}
	loaded, err := LoadConfig(cfg)
	if err != nil || len(loaded.Indexes) != 1 {
		t.Errorf("ferry's config no longer loads: %+v %v", loaded, err)
	}
	if err := os.WriteFile(cfg, []byte("registry:\n  auth:\n    gcp: {registry: x}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := f.GCPRegistries(); err == nil {
		t.Errorf("a mapping was taken for a list")
	}
}
