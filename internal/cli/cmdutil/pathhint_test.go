package cmdutil

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/spf13/pflag"
)

func TestPathHint(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "afile")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "dangling")
	if err := os.Symlink(filepath.Join(dir, "nowhere"), dangling); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good")
	if err := os.Mkdir(good, 0o755); err != nil {
		t.Fatal(err)
	}
	flags := func(state, rules string) *pflag.FlagSet {
		fl := pflag.NewFlagSet("x", pflag.ContinueOnError)
		fl.String("state-dir", state, "")
		fl.String("rulesfiles-dir", rules, "")
		fl.String("type", "rulesfile", "")
		return fl
	}
	for _, c := range []struct {
		name  string
		err   error
		flags *pflag.FlagSet
		want  []string // empty: no hint
	}{
		{"file as a directory", fmt.Errorf("recovering: %w", &fs.PathError{Op: "open", Path: file, Err: syscall.ENOTDIR}), flags(good, file),
			[]string{file + " is a file, not a directory", "--rulesfiles-dir DIR", "FERRY_RULESFILES_DIR", "now " + file}},
		{"file above the directory", &fs.PathError{Op: "mkdir", Path: filepath.Join(file, "sub"), Err: syscall.ENOTDIR}, flags(filepath.Join(file, "sub"), good),
			[]string{file + " is a file", "--state-dir DIR"}},
		{"dangling symlink", &fs.PathError{Op: "open", Path: filepath.Join(dangling, ".lock"), Err: syscall.ENOENT}, flags(dangling, good),
			[]string{dangling + " is a symlink to " + filepath.Join(dir, "nowhere") + ", which does not exist", "--state-dir DIR"}},
		{"permission", &fs.PathError{Op: "mkdir", Path: filepath.Join(good, ".ferry-staging"), Err: syscall.EACCES}, flags(dir, good),
			[]string{"ferry may not write " + filepath.Join(good, ".ferry-staging"), "--rulesfiles-dir DIR"}},
		{"permission, no flag", &fs.PathError{Op: "open", Path: "/elsewhere/x", Err: syscall.EACCES}, flags(good, good),
			[]string{"ferry may not write /elsewhere/x"}},
		{"a file the user named is missing", &fs.PathError{Op: "stat", Path: filepath.Join(dir, "nope.yaml"), Err: syscall.ENOENT}, flags(good, good), nil},
		{"not about a path", fmt.Errorf("registry said no"), flags(file, file), nil},
		{"a lock file is a file", &fs.PathError{Op: "open", Path: filepath.Join(good, ".lock"), Err: syscall.EEXIST}, flags(good, good), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := PathHint(c.err, c.flags)
			if len(c.want) == 0 {
				if h != "" {
					t.Errorf("hint %q, want none", h)
				}
				return
			}
			for _, w := range c.want {
				if !strings.Contains(h, w) {
					t.Errorf("hint %q lacks %q", h, w)
				}
			}
			if os.Geteuid() != 0 && strings.Contains(c.name, "permission") && !strings.Contains(h, "sudo") {
				t.Errorf("hint %q does not suggest sudo", h)
			}
		})
	}
}

func TestFalcoctlPathHint(t *testing.T) {
	file := filepath.Join(t.TempDir(), "afile")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fl := pflag.NewFlagSet("x", pflag.ContinueOnError)
	fl.String("state-dir", filepath.Join(file, "sub"), "")
	err := &fs.PathError{Op: "mkdir", Path: filepath.Join(file, "sub"), Err: syscall.ENOTDIR}
	for path, want := range map[string]string{
		"artifact install": "--state-dir DIR (or FALCOCTL_ARTIFACT_INSTALL_STATEDIR; now ",
		"artifact follow":  "--state-dir DIR (or FALCOCTL_ARTIFACT_FOLLOW_STATEDIR; now ",
		// No falcoctl key feeds it there: no variable to name.
		"driver install": "--state-dir DIR (now ",
	} {
		h := FalcoctlPathHint(err, fl, path)
		if !strings.Contains(h, want) || strings.Contains(h, "FERRY_") {
			t.Errorf("%s: hint %q, want %q and no FERRY_", path, h, want)
		}
	}
	perm := &fs.PathError{Op: "open", Path: "/elsewhere/x", Err: syscall.EACCES}
	if h := FalcoctlPathHint(perm, fl, "artifact install"); !strings.HasPrefix(h, "falcoctl may not write /elsewhere/x") {
		t.Errorf("permission hint %q does not name falcoctl", h)
	}
}
