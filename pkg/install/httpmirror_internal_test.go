package install

import (
	"testing"
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
	pat, err := mirrorPattern("https://m.example/plugins/{name}-{version}-{os}-{arch}.{ext}", "k8saudit", "linux/arm64")
	if err != nil || pat.Dir != "https://m.example/plugins/" {
		t.Fatalf("%v, %v", pat, err)
	}
	match := pat.Version
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
	if _, err := mirrorPattern("https://m.example/{version}/{name}.tar.gz", "x", ""); err == nil {
		t.Error("a version in the directory cannot be listed")
	}
	// Every occurrence of {version} must agree.
	pat, _ = mirrorPattern("https://m.example/{name}-{version}_{version}.tgz", "x", "")
	match = pat.Version
	if _, ok := match("x-1.0.0_1.0.1.tgz"); ok {
		t.Error("two different versions in one name matched")
	}
	if v, ok := match("x-1.0.0_1.0.0.tgz"); !ok || v != "1.0.0" {
		t.Errorf("got %q %v", v, ok)
	}
}
