package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ferryhq/ferry/internal/cli"
	"github.com/ferryhq/ferry/internal/cli/cmdutil"
)

// asFalcoctl runs the command tree under falcoctl's name, as the falcoctl
// mode names it.
func asFalcoctl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	f := cmdutil.NewFactory("0.13.0")
	f.IO = cmdutil.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	f.Getenv = func(k string) string { return map[string]string{"XDG_CONFIG_HOME": t.TempDir()}[k] }
	f.Falcoctl = true
	f.Global.ConfigPath = filepath.Join(t.TempDir(), "falcoctl.yaml")
	root := cli.NewCmdRoot(f)
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestVersionAsFalcoctl(t *testing.T) {
	out, err := asFalcoctl(t, "version")
	if err != nil || out != "Client Version: 0.13.0\n" {
		t.Errorf("version: %q %v", out, err)
	}
	out, err = asFalcoctl(t, "version", "-o", "json")
	body, ok := strings.CutPrefix(out, "Client Version:\n")
	if err != nil || !ok || !strings.HasSuffix(body, "} \n") {
		t.Fatalf("version -o json: %q %v", out, err)
	}
	var v map[string]string
	if err := json.Unmarshal([]byte(strings.TrimSuffix(body, " \n")), &v); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"semVersion", "gitCommit", "buildDate", "goVersion", "compiler", "platform"} {
		if _, ok := v[k]; !ok {
			t.Errorf("json lacks %s: %s", k, body)
		}
	}
	if v["semVersion"] != "0.13.0" || !strings.Contains(body, "\n   \"semVersion\"") {
		t.Errorf("json is not falcoctl's (three-space indent): %q", body)
	}
	out, err = asFalcoctl(t, "version", "--output=yaml")
	body, ok = strings.CutPrefix(out, "Client Version:\n")
	var y map[string]string
	if err != nil || !ok || yaml.Unmarshal([]byte(body), &y) != nil || y["semversion"] != "0.13.0" || y["compiler"] != "gc" {
		t.Errorf("version -o yaml: %q %v %v", out, y, err)
	}
	if _, err := asFalcoctl(t, "version", "-o", "toml"); err == nil {
		t.Errorf("-o toml accepted")
	}
}
