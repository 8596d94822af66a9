package e2e

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestFalcoctlBasicAuthConfig pulls from a registry that requires basic
// auth with the credentials of falcoctl's registry.auth.basic, and no
// docker credential store.
func TestFalcoctlBasicAuthConfig(t *testing.T) {
	t.Parallel()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	e := newFalcoctlEnv(t)
	htpasswd := e.write("htpasswd", "alice:"+string(hash)+"\n")
	reg := startRegistry(t, fmt.Sprintf("auth:\n  htpasswd:\n    realm: ferry-test\n    path: %s\n", htpasswd))
	repo := reg.Host + "/acme/rules/my-rules"
	noAuth := e.write("etc/falcoctl/none.yaml", "artifact:\n  install:\n    rulesfilesDir: "+e.path("rules")+"\n")
	config := e.write("etc/falcoctl/falcoctl.yaml", fmt.Sprintf(`registry:
  auth:
    basic:
    - registry: %s
      user: alice
      password: s3cret
artifact:
  install:
    refs: [%s:1.0.0]
    rulesfilesDir: %s
    stateDir: %s
`, reg.Host, repo, e.path("rules"), e.path("state")))
	src := e.write("src/my_rules.yaml", "- rule: private\n")
	e.ok("--config", config, "artifact", "push", repo, src, "--type", "rulesfile", "--version", "1.0.0")

	r := e.run("--config", noAuth, "artifact", "install", repo+":1.0.0", "--log-format=json")
	if r.Code != 4 {
		t.Errorf("without credentials: exit %d, want 4: %s", r.Code, r.Stderr)
	}
	jsonLines(t, r.Stderr)
	r = e.run("--config", config, "artifact", "install", "--log-format=json")
	if r.Code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	jsonLines(t, r.Stderr)
	if got := e.read("rules", "my_rules.yaml"); got != "- rule: private\n" {
		t.Errorf("installed %q", got)
	}
	if strings.Contains(r.Stdout+r.Stderr, "s3cret") {
		t.Errorf("the password was printed")
	}
	if v := e.run("--config", config, "config", "view"); strings.Contains(v.Stdout, "s3cret") || !strings.Contains(v.Stdout, "registry.auth.basic") {
		t.Errorf("config view:\n%s", v.Stdout)
	}
}
