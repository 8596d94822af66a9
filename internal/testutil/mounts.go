package testutil

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// privateMountsEnv marks the process PrivateMounts re-ran in a namespace.
const privateMountsEnv = "FERRY_TEST_PRIVATE_MOUNTS"

// PrivateMounts runs the calling top-level test again in a private mount
// namespace (unshare -m) in which each of dirs is a writable overlay over
// the real directory, so that what the test writes there (DKMS's tree,
// /usr/src, /lib/modules, /etc) never reaches the machine. In the outer
// process it runs the test binary, reports its output, checks that dirs
// are unchanged afterwards and returns false: the caller returns. In the
// namespace it returns true: the caller does the work. It skips the test
// when it cannot set up the namespace (not root, no unshare, no overlay).
func PrivateMounts(t *testing.T, dirs ...string) bool {
	t.Helper()
	if os.Getenv(privateMountsEnv) == t.Name() {
		return true
	}
	if strings.Contains(t.Name(), "/") {
		t.Fatal("PrivateMounts: call it from a top-level test")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for a private mount namespace (unshare -m)")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare (util-linux) for a private mount namespace")
	}
	for _, d := range dirs {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			t.Fatalf("PrivateMounts: %s is not a directory", d)
		}
	}
	before := Snapshot(t, dirs...)
	work := t.TempDir()
	script := `set -e
w=$1; shift
n=0
while [ "$1" != -- ]; do
	n=$((n+1)); mkdir -p "$w/$n/upper" "$w/$n/work"
	mount -t overlay overlay -o "lowerdir=$1,upperdir=$w/$n/upper,workdir=$w/$n/work" "$1"
	shift
done
shift
exec "$@"
`
	args := []string{"-m", "--propagation", "private", "sh", "-c", script, "sh", work}
	args = append(args, dirs...)
	args = append(args, "--", os.Args[0], "-test.run", "^"+regexp.QuoteMeta(t.Name())+"$", "-test.v", "-test.count=1")
	cmd := exec.Command("unshare", args...)
	cmd.Env = append(os.Environ(), privateMountsEnv+"="+t.Name())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("in a private mount namespace over %s:\n%s", strings.Join(dirs, ", "), out.String())
	switch {
	case err != nil && bytes.Contains(out.Bytes(), []byte("mount: ")) && !bytes.Contains(out.Bytes(), []byte("=== RUN")):
		t.Skipf("cannot mount overlays in a private namespace: %v", err)
	case err != nil:
		t.Errorf("the test failed in its namespace: %v", err)
	case bytes.Contains(out.Bytes(), []byte("--- SKIP: "+t.Name())):
		t.Skip("skipped in its namespace (see the log)")
	case !bytes.Contains(out.Bytes(), []byte("--- PASS: "+t.Name())):
		t.Errorf("the test did not pass in its namespace")
	}
	if after := Snapshot(t, dirs...); after != before {
		t.Errorf("the machine changed under %s:\n%s", strings.Join(dirs, ", "), diffLines(before, after))
	}
	return false
}

// Snapshot lists every entry under dirs with its type, size and
// modification time, one a line.
func Snapshot(t *testing.T, dirs ...string) string {
	t.Helper()
	var b strings.Builder
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				fmt.Fprintf(&b, "%s error %v\n", p, err)
				return nil
			}
			fi, err := e.Info()
			if err != nil {
				return nil
			}
			fmt.Fprintf(&b, "%s %s %d %d\n", p, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func diffLines(a, b string) string {
	in := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		in[l]--
	}
	for _, l := range strings.Split(b, "\n") {
		in[l]++
	}
	var out []string
	for l, n := range in {
		switch {
		case n < 0:
			out = append(out, "- "+l)
		case n > 0:
			out = append(out, "+ "+l)
		}
		if len(out) > 20 {
			break
		}
	}
	return strings.Join(out, "\n")
}
