package cli_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/internal/cli"
	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

type run struct {
	out, err string
	code     int
}

func ferry(t *testing.T, env map[string]string, args ...string) run {
	t.Helper()
	var out, errOut bytes.Buffer
	f := cmdutil.NewFactory("test")
	f.IO = cmdutil.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	f.Getenv = func(k string) string { return env[k] }
	code := cli.Run(context.Background(), f, args)
	return run{out.String(), errOut.String(), code}
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte("defaults:\n  output: json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	isJSON := func(r run) bool { return strings.HasPrefix(r.out, "{") }
	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		json bool
	}{
		{"built-in default", map[string]string{"XDG_CONFIG_HOME": dir}, nil, false},
		{"config file", map[string]string{"FERRY_CONFIG": cfg}, nil, true},
		{"environment over config", map[string]string{"FERRY_CONFIG": cfg, "FERRY_OUTPUT": "text"}, nil, false},
		{"flag over environment", map[string]string{"FERRY_CONFIG": cfg, "FERRY_OUTPUT": "text"}, []string{"-o", "json"}, true},
		{"--config flag", map[string]string{"XDG_CONFIG_HOME": dir}, []string{"--config", cfg}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := ferry(t, c.env, append([]string{"version"}, c.args...)...)
			if r.code != 0 || isJSON(r) != c.json {
				t.Errorf("exit %d, json=%v, want json=%v: %s%s", r.code, isJSON(r), c.json, r.out, r.err)
			}
		})
	}
	r := ferry(t, map[string]string{"FERRY_OUTPUT": "xml", "XDG_CONFIG_HOME": dir}, "version")
	if r.code != 2 || !strings.Contains(r.err, "--output") {
		t.Errorf("bad env value: exit %d: %s", r.code, r.err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(bad, []byte("defaults: [\n"), 0o644)
	if r := ferry(t, map[string]string{"FERRY_CONFIG": bad}, "version"); r.code != 2 || !strings.Contains(r.err, "bad.yaml: line ") {
		t.Errorf("malformed config: exit %d: %s", r.code, r.err)
	}
}

func TestHelpDocumentsExitCodes(t *testing.T) {
	r := ferry(t, nil, "--help")
	for _, want := range []string{"Exit codes:", "130", "FERRY_<FLAG_NAME>"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("help lacks %q", want)
		}
	}
	for _, cmd := range [][]string{{"artifact", "install"}, {"artifact", "push"}, {"artifact", "info"}, {"index", "add"}, {"registry", "login"}} {
		r := ferry(t, nil, append(cmd, "--help")...)
		if !strings.Contains(r.out, "Examples:") {
			t.Errorf("%v --help has no examples", cmd)
		}
	}
}

func TestExitCodes(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("doing a thing: %w", err) }
	for _, c := range []struct {
		err  error
		code int
	}{
		{wrap(&index.ReferenceError{Ref: "x", Msg: "bad"}), 2},
		{wrap(&index.ConstraintError{Constraint: ">>1", Err: errors.New("bad")}), 2},
		{wrap(&index.AmbiguousError{Name: "x", Indexes: []string{"a", "b"}}), 2},
		{wrap(&index.NotFoundError{Name: "x"}), 3},
		{wrap(&index.NoMatchError{Constraint: "9.x"}), 3},
		{wrap(&oci.PlatformError{Want: "a/b"}), 3},
		{wrap(oci.ErrNotFound), 3},
		{wrap(&oci.AuthError{Host: "h", Status: 401}), 4},
		{wrap(oci.ErrDigestMismatch), 5},
		{wrap(install.ErrUnsafeArchive), 5},
		{wrap(context.Canceled), 130},
		{errors.New("other"), 1},
		{cmdutil.Usage(errors.New("u")), 2},
	} {
		if got := cli.ExitCode(c.err); got != c.code {
			t.Errorf("%v: exit %d, want %d", c.err, got, c.code)
		}
	}
}

func TestErrorHints(t *testing.T) {
	for _, c := range []struct {
		err  error
		hint string
	}{
		{fmt.Errorf("x: %w", &oci.AuthError{Host: "ghcr.io", Status: 401}), "ferry registry login ghcr.io"},
		{errors.New(`Get "https://h/v2/": http: server gave HTTP response to HTTPS client`), "--plain-http"},
		{errors.New("tls: failed to verify certificate: x509: certificate signed by unknown authority"), "--ca-file"},
	} {
		if got := cmdutil.FormatError(c.err); !strings.Contains(got, "hint: ") || !strings.Contains(got, c.hint) {
			t.Errorf("%v: %q lacks hint %q", c.err, got, c.hint)
		}
	}
	if got := cmdutil.FormatError(errors.New("line one\nline two")); got != "error: line one; line two\n" {
		t.Errorf("multi-line error not folded: %q", got)
	}
}
