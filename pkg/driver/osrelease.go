package driver

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// ParseOSRelease parses os-release(5): KEY=VALUE lines (spaces around the
// "=" are allowed, as falcoctl's ini reader allows them), values optionally
// quoted with "..." (backslash escapes \" \\ \$ \`) or '...'; comments and
// blank lines are skipped.
func ParseOSRelease(data []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || !validKey(key) {
			continue
		}
		out[key] = unquote(strings.TrimSpace(val))
	}
	return out
}

func validKey(k string) bool {
	if k == "" {
		return false
	}
	for i, c := range k {
		if c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

func unquote(v string) string {
	if len(v) < 2 {
		return v
	}
	switch q := v[0]; q {
	case '\'':
		if end := strings.IndexByte(v[1:], '\''); end >= 0 {
			return v[1 : 1+end]
		}
	case '"':
		var b strings.Builder
		for i := 1; i < len(v); i++ {
			c := v[i]
			switch {
			case c == '\\' && i+1 < len(v) && strings.IndexByte("\"\\$`", v[i+1]) >= 0:
				i++
				b.WriteByte(v[i])
			case c == '"':
				return b.String()
			default:
				b.WriteByte(c)
			}
		}
	}
	return v
}

// hostPath returns where name (a path inside the host root) is on this
// machine, following symbolic links the way the host would: an absolute link
// target is taken relative to root, and ".." never climbs above root. (A
// host's /etc/os-release is often a link to /usr/lib/os-release; followed
// naively from a container it would name the container's own file.)
func hostPath(root, name string) (string, error) {
	if root == "" {
		root = "/"
	}
	var resolved []string
	todo := strings.Split(filepath.ToSlash(name), "/")
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(resolved) > 0 {
				resolved = resolved[:len(resolved)-1]
			}
			continue
		}
		cand := append(resolved[:len(resolved):len(resolved)], c)
		p := filepath.Join(root, filepath.Join(cand...))
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			// A missing component: the caller's open reports it.
			resolved = cand
			continue
		}
		if links++; links > 40 {
			return "", fmt.Errorf("%s: too many levels of symbolic links", p)
		}
		target, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			resolved = nil
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return filepath.Join(root, filepath.Join(resolved...)), nil
}

// readHostFile reads name under the host root; found is false when it does
// not exist.
func readHostFile(root, name string) (data []byte, found bool, err error) {
	p, err := hostPath(root, name)
	if err != nil {
		return nil, false, err
	}
	data, err = os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return data, true, nil
}

func hostFileExists(root, name string) bool {
	p, err := hostPath(root, name)
	if err != nil {
		return false
	}
	_, err = os.Stat(p)
	return err == nil
}
