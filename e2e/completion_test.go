package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

func TestCompletionScripts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		r := e.ok("completion", sh)
		if !strings.Contains(r.Stdout, "__complete") {
			t.Errorf("%s script does not ask ferry for completions:\n%.300s", sh, r.Stdout)
		}
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash is needed to check the bash completion script loads")
	}
	cmd := exec.Command(bash, "--norc", "-c", `source <("$FERRY" completion bash) && complete -p ferry`)
	cmd.Env = append(e.vars, "FERRY="+ferryBin)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "__start_ferry ferry") {
		t.Errorf("bash did not register the completion: %v\n%s", err, out)
	}
}

func TestCompletionVersions(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, "")
	e := newEnv(t)
	publishRules(t, e, reg.Host+"/acme/rules/my-rules", "1.0.0", "1.1.0")
	addIndex(t, e, "acme", rulesIndex(reg.Host))
	r := e.ok("__complete", "artifact", "install", "rules:")
	if want := "rules:1.1.0\nrules:1.0.0\n:36\n"; r.Stdout != want {
		t.Errorf("got %q, want %q", r.Stdout, want)
	}
	r = e.ok("__complete", "artifact", "install", "pl")
	if !strings.HasPrefix(r.Stdout, "plug\tplugin\n") {
		t.Errorf("names: %q", r.Stdout)
	}
}
