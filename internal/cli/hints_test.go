package cli_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/internal/testutil"
)

// expectError checks a run failed with code and one error line, and that
// stderr has each of want.
func expectError(t *testing.T, r run, code int, want ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit %d, want %d: %s", r.code, code, r.err)
	}
	lines := strings.Split(strings.TrimRight(r.err, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "error: ") || len(lines) > 2 || len(lines) == 2 && !strings.HasPrefix(lines[1], "hint: ") {
		t.Errorf("not one error line and a hint:\n%s", r.err)
	}
	for _, w := range want {
		if !strings.Contains(r.err, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.err)
		}
	}
}

func TestErrorsSuggestTheFix(t *testing.T) {
	reg := testutil.NewRegistry(t)
	env, dir := userEnv(t)
	publishedIndex(t, env, dir, reg, "1.0.0", "1.1.0")

	t.Run("mistyped command", func(t *testing.T) {
		r := ferry(t, env, "artifact", "instal", "rules")
		expectError(t, r, 2, `unknown command "instal" for "ferry artifact"`, "hint: did you mean ferry artifact install?")
		if r.out != "" {
			t.Errorf("help printed on a mistyped command: %s", r.out)
		}
		expectError(t, ferry(t, env, "indx", "list"), 2, "hint: did you mean ferry index?")
		expectError(t, ferry(t, env, "zzz"), 2, "hint: run: ferry --help")
	})
	t.Run("unknown artifact: the closest names", func(t *testing.T) {
		expectError(t, ferry(t, env, "artifact", "install", "rulez:1.x"), 3, `"rulez"`, "did you mean rules?")
		expectError(t, ferry(t, env, "artifact", "info", "acme/rulse"), 3, "did you mean rules?")
		expectError(t, ferry(t, env, "artifact", "install", "qqqqqq"), 3, "hint: run: ferry artifact search qqqqqq")
		expectError(t, ferry(t, env, "artifact", "install", "acm/rules"), 3, `index "acm"`, "did you mean acme?")
	})
	t.Run("nothing matches: the versions that exist", func(t *testing.T) {
		expectError(t, ferry(t, env, "artifact", "install", "rules:2.x"), 3, "rules:2.x", "available: 1.1.0, 1.0.0")
	})
	t.Run("401: the login command", func(t *testing.T) {
		reg.SetFault(func(w http.ResponseWriter, _ *http.Request) bool {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return true
		})
		defer reg.SetFault(nil)
		expectError(t, ferry(t, env, "artifact", "info", "rules:1.x"), 4, "hint: run: ferry registry login "+reg.Host)
	})
	t.Run("TLS failure: --ca-file", func(t *testing.T) {
		tlsReg := testutil.NewTLSRegistry(t)
		env := map[string]string{"XDG_CONFIG_HOME": env["XDG_CONFIG_HOME"], "XDG_CACHE_HOME": env["XDG_CACHE_HOME"]}
		expectError(t, ferry(t, env, "artifact", "info", tlsReg.Host+"/acme/rules/x:1.0.0"), 1, "x509", "hint: pass --ca-file")
		expectError(t, ferry(t, env, "artifact", "info", tlsReg.Host+"/acme/rules/x:1.0.0", "--ca-file", tlsReg.CAFile), 3, "1.0.0")
	})
	t.Run("plain HTTP registry: --plain-http", func(t *testing.T) {
		env := map[string]string{"XDG_CONFIG_HOME": env["XDG_CONFIG_HOME"], "XDG_CACHE_HOME": env["XDG_CACHE_HOME"]}
		expectError(t, ferry(t, env, "artifact", "info", reg.Host+"/acme/rules/my-rules:1.0.0"), 1, "hint: the registry speaks plain HTTP: pass --plain-http")
	})
}
