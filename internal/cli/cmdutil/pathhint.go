package cmdutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/ferryhq/ferry/pkg/install"
)

// pathFlag reports whether a flag names a path on this machine that ferry
// writes to or reads from.
func pathFlag(name string) bool {
	return strings.HasSuffix(name, "-dir") || name == "config" || name == "output-file" || name == "lock-file"
}

// PathHint suggests a fix for an error about a path on this machine: a
// permission refused (run as root, or point the flag elsewhere), a
// destination that is a file where a directory is wanted, a dangling
// symlink. It names the path and, when one of flags set it, that flag and
// its environment variable. It returns "" for other errors.
func PathHint(err error, flags *pflag.FlagSet) string {
	return pathHint(err, flags, "ferry", func(flag string) string { return envName(flag) })
}

// FalcoctlPathHint is PathHint in falcoctl mode, for the command at
// cmdPath ("artifact install"): it names falcoctl and the variable falcoctl
// reads for the flag (FALCOCTL_ARTIFACT_INSTALL_STATEDIR), if any.
func FalcoctlPathHint(err error, flags *pflag.FlagSet, cmdPath string) string {
	return pathHint(err, flags, "falcoctl", func(flag string) string {
		if keys := aliasesFor(flag, cmdPath); len(keys) > 0 {
			return FalcoctlEnvName(keys[0])
		}
		return ""
	})
}

// pathHint is PathHint for the program prog, whose variable for a flag is
// env(flag) ("" for none).
func pathHint(err error, flags *pflag.FlagSet, prog string, env func(string) string) string {
	if err == nil || !pathError(err) {
		return ""
	}
	var errPath string
	var pe *fs.PathError
	if errors.As(err, &pe) {
		errPath = absPath(pe.Path)
	}
	flag, value := matchFlag(err, errPath, flags)
	use := ""
	if flag != "" {
		use = fmt.Sprintf("--%s DIR (now %s)", flag, value)
		if name := env(flag); name != "" {
			use = fmt.Sprintf("--%s DIR (or %s; now %s)", flag, name, value)
		}
		if !strings.HasSuffix(flag, "-dir") {
			use = fmt.Sprintf("--%s PATH (now %s)", flag, value)
		}
	}
	// What is wrong on disk, looking at the flag's path and then at the
	// directories above the path the error names (that path itself may
	// well be a file).
	parent := ""
	if errPath != "" {
		parent = filepath.Dir(errPath)
	}
	for _, p := range []string{value, parent} {
		if p == "" {
			continue
		}
		if what := diagnose(p); what != "" {
			if use == "" {
				return what + ": fix it, or choose another path"
			}
			return what + ": fix it, or pass " + use
		}
	}
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
		where := errPath
		if where == "" {
			where = value
		}
		msg := prog + " may not write there"
		if where != "" {
			msg = prog + " may not write " + where
		}
		if errors.Is(err, syscall.EROFS) {
			msg += " (read-only file system)"
		} else if os.Geteuid() != 0 {
			msg += ": run it as root (sudo " + prog + " ...)"
			if use != "" {
				msg += ", or pass " + use + " to use a directory you can write"
			}
			return msg
		}
		if use != "" {
			msg += ": pass " + use + " to use a directory you can write"
		}
		return msg
	}
	return ""
}

// pathError reports whether err is about a path: permissions, a file where
// a directory is wanted or the other way round, a missing directory.
func pathError(err error) bool {
	for _, target := range []error{fs.ErrPermission, syscall.EROFS, syscall.ENOTDIR, syscall.EISDIR, syscall.EEXIST, install.ErrConflict} {
		if errors.Is(err, target) {
			return true
		}
	}
	// Any other error on a path (os.OpenRoot's "not a directory" is no
	// errno) gets a hint only when diagnose finds why: a dangling symlink
	// or a file in the way. A file the user named that is not there needs
	// none.
	var pe *fs.PathError
	return errors.Is(err, fs.ErrNotExist) || errors.As(err, &pe)
}

// matchFlag returns the path flag whose value holds errPath, or whose value
// the error names; the longest match wins.
func matchFlag(err error, errPath string, flags *pflag.FlagSet) (name, value string) {
	if flags == nil {
		return "", ""
	}
	msg := err.Error()
	best := -1
	flags.VisitAll(func(f *pflag.Flag) {
		v := f.Value.String()
		if !pathFlag(f.Name) || v == "" {
			return
		}
		abs := absPath(v)
		hit := strings.Contains(msg, v) || strings.Contains(msg, abs)
		if errPath != "" && (errPath == abs || strings.HasPrefix(errPath, abs+string(filepath.Separator))) {
			hit = true
		}
		if hit && len(abs) > best {
			best, name, value = len(abs), f.Name, v
		}
	})
	return name, value
}

// diagnose walks from p up to the root and reports the first thing that
// stops p from being a directory: a file in the way, a dangling symlink.
func diagnose(p string) string {
	for cur := absPath(p); ; cur = filepath.Dir(cur) {
		fi, err := os.Lstat(cur)
		switch {
		case err != nil:
			// Missing: its parent is what matters.
		case fi.Mode()&fs.ModeSymlink != 0:
			if _, serr := os.Stat(cur); serr != nil {
				target, _ := os.Readlink(cur)
				return fmt.Sprintf("%s is a symlink to %s, which does not exist", cur, target)
			}
			return ""
		case !fi.IsDir():
			return fmt.Sprintf("%s is a file, not a directory", cur)
		default:
			return ""
		}
		if parent := filepath.Dir(cur); parent == cur {
			return ""
		}
	}
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}

// envName is the environment variable that sets a flag.
func envName(flag string) string {
	return "FERRY_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}
