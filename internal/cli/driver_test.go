package cli_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/internal/cli"
	"github.com/ferryhq/ferry/pkg/driver"
)

func TestDriverExitCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		code int
	}{
		{&driver.DownloadError{Attempts: []driver.Attempt{{URL: "u", NotFound: true}}}, 3},
		{fmt.Errorf("installing: %w", driver.ErrUnsupported), 3},
		{fmt.Errorf("downloading: %w", driver.ErrDigestMismatch), 5},
		{&driver.DownloadError{Attempts: []driver.Attempt{{URL: "u", Error: "500 Internal Server Error"}}}, 1},
		{&driver.DownloadError{Attempts: []driver.Attempt{{URL: "u", NotFound: true}, {URL: "v", Unauthorized: true}}}, 4},
		{&driver.DownloadError{Attempts: []driver.Attempt{{URL: "u", Unauthorized: true}, {URL: "v", Error: "500 Internal Server Error"}}}, 1},
		{fmt.Errorf("%w: insmod", driver.ErrLoad), 1},
	} {
		if got := cli.ExitCode(c.err); got != c.code {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.code)
		}
	}
}

// The printenv output is shell-sourceable, whatever uname -v holds.
func TestDriverPrintenvSourceable(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	root, err := filepath.Abs(filepath.Join("..", "..", "pkg", "driver", "testdata", "hosts", "ubuntu-22.04-aws", "root"))
	if err != nil {
		t.Fatal(err)
	}
	version := "#17~22.04.1-Ubuntu SMP \"quoted\" $HOME `id` \\ (x)"
	r := ferry(t, nil, "driver", "printenv", "--host-root", root, "--kernelrelease", "6.2.0-1017-aws",
		"--kernelversion", version, "--version", "8.0.0+driver", "--type", "kmod")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	env := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(env, []byte(r.out), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sh, "-c", `. "$1" && printf '%s|%s|%s|%s' "$TARGET_ID" "$KERNEL_VERSION" "$FIXED_KERNEL_VERSION" "$DRIVER"`, "sh", env).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "ubuntu-aws|" + version + "|17~22.04.1|kmod"
	if string(out) != want {
		t.Errorf("sourced %q\nwant    %q", out, want)
	}
	if n := strings.Count(r.out, "\n"); n != 11 {
		t.Errorf("%d lines:\n%s", n, r.out)
	}
}

func TestDriverUsage(t *testing.T) {
	for _, args := range [][]string{
		{"driver", "printenv", "--host-root", "rel"},
		{"driver", "install", "--type", "kmod", "--max-size", "0", "--kernelrelease", "6.1.0", "--kernelversion", "#1"},
		{"driver", "config", "--type", ""},
		{"driver", "cleanup", "--state-dir", " "},
	} {
		r := ferry(t, nil, args...)
		if r.code != 2 || !strings.HasPrefix(r.err, "error: ") {
			t.Errorf("%v: exit %d: %s", args, r.code, r.err)
		}
	}
}
