package install

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExpandURLMachine(t *testing.T) {
	tmpl := "https://download.falco.org/plugins/stable/{name}-{version}-{os}-{machine}.{ext}"
	for platform, want := range map[string]string{
		"linux/amd64": "https://download.falco.org/plugins/stable/k8saudit-0.7.0-linux-x86_64.tar.gz",
		"linux/arm64": "https://download.falco.org/plugins/stable/k8saudit-0.7.0-linux-aarch64.tar.gz",
		"linux/s390x": "https://download.falco.org/plugins/stable/k8saudit-0.7.0-linux-s390x.tar.gz",
	} {
		if got := expandURL(tmpl, "k8saudit", "0.7.0", platform); got != want {
			t.Errorf("%s: %s, want %s", platform, got, want)
		}
	}
}

func TestMirrorPattern(t *testing.T) {
	dir, match, err := mirrorPattern("https://m.example/plugins/{name}-{version}-{os}-{arch}.{ext}", "k8saudit", "linux/arm64")
	if err != nil || dir != "https://m.example/plugins/" {
		t.Fatalf("%q, %v", dir, err)
	}
	for file, want := range map[string]string{
		"k8saudit-0.7.0-linux-arm64.tar.gz":       "0.7.0",
		"k8saudit-1.0.0-rc.1-linux-arm64.tar.gz":  "1.0.0-rc.1",
		"k8saudit-0.7.0-linux-amd64.tar.gz":       "",
		"k8saudit-rules-0.7.0.tar.gz":             "",
		"other-k8saudit-0.7.0-linux-arm64.tar.gz": "",
	} {
		got, ok := match(file)
		if got != want || ok != (want != "") {
			t.Errorf("%s: %q %v, want %q", file, got, ok, want)
		}
	}
	if _, _, err := mirrorPattern("https://m.example/{version}/{name}.tar.gz", "x", ""); err == nil {
		t.Error("a version in the directory cannot be listed")
	}
	// Every occurrence of {version} must agree.
	_, match, _ = mirrorPattern("https://m.example/{name}-{version}_{version}.tgz", "x", "")
	if _, ok := match("x-1.0.0_1.0.1.tgz"); ok {
		t.Error("two different versions in one name matched")
	}
	if v, ok := match("x-1.0.0_1.0.0.tgz"); !ok || v != "1.0.0" {
		t.Errorf("got %q %v", v, ok)
	}
}

func TestParseSums(t *testing.T) {
	a, b := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
	got, err := parseSums([]byte("# comment\n" + a + "  rules-1.0.0.tar.gz\n\n" + b + " *sub/rules-1.1.0.tar.gz\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"rules-1.0.0.tar.gz": "sha256:" + a, "rules-1.1.0.tar.gz": "sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"}
	if d := cmp.Diff(want, got); d != "" {
		t.Error(d)
	}
	for _, bad := range []string{"nothex  file\n", a + "\n", "abc  file\n"} {
		if _, err := parseSums([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestHrefs(t *testing.T) {
	page := `<html><body><h1>Index of /rules/</h1><pre>
<a href="../">../</a>
<a href="falco-rules-3.0.0.tar.gz">falco-rules-3.0.0.tar.gz</a>   12-Jan-2024 10:00  1234
<a href="/rules/falco-rules-3.0.1.tar.gz?download=1">x</a>
<a href="https://cdn.example/rules/falco-rules-3.1.0%2Bbuild.tar.gz">y</a>
<a href="sub/">sub/</a><a name="anchor">no href</a>
</pre></body></html>`
	want := []string{"falco-rules-3.0.0.tar.gz", "falco-rules-3.0.1.tar.gz", "falco-rules-3.1.0+build.tar.gz"}
	if d := cmp.Diff(want, hrefs([]byte(page))); d != "" {
		t.Error(d)
	}
}
