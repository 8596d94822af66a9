package driver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// loadHost reads a sample host of testdata/hosts: its uname and its root.
func loadHost(t *testing.T, name string) (root string, k Kernel) {
	t.Helper()
	dir := filepath.Join("testdata", "hosts", name)
	data, err := os.ReadFile(filepath.Join(dir, "uname"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(strings.TrimRight(string(data), "\n"), "\n", 2)
	if len(lines) != 2 {
		t.Fatalf("%s/uname: want two lines (uname -r, uname -v)", dir)
	}
	root = filepath.Join(dir, "root")
	if _, err := os.Stat(root); err != nil {
		root = t.TempDir() // git keeps no empty directory
	}
	return root, Kernel{Release: lines[0], Version: lines[1], Arch: "x86_64"}
}

func TestDetectSamples(t *testing.T) {
	type want struct {
		Distro, ID, Release, Version, BuildID string
	}
	cases := []struct {
		host string
		want want
	}{
		{"debian-12-cloud", want{"debian", "debian", "6.1.38-2-cloud-amd64", "1", ""}},
		{"debian-11", want{"debian", "debian", "5.10.179-1-amd64", "1", ""}},
		{"debian-10-rt-backports", want{"debian", "debian", "5.10.178-3-rt-amd64", "1", ""}},
		{"debian-9-no-os-release", want{"debian", "debian", "4.9.228-1-amd64", "1", ""}},
		{"ubuntu-22.04-generic", want{"ubuntu", "ubuntu-generic", "5.15.0-88-generic", "98", ""}},
		{"ubuntu-22.04-aws", want{"ubuntu", "ubuntu-aws", "6.2.0-1017-aws", "17~22.04.1", ""}},
		{"ubuntu-22.04-gcp", want{"ubuntu", "ubuntu-gcp", "6.5.0-1008-gcp", "8~22.04.1", ""}},
		{"ubuntu-22.04-azure", want{"ubuntu", "ubuntu-azure", "6.5.0-1025-azure", "26~22.04.1", ""}},
		{"ubuntu-23.10-lowlatency", want{"ubuntu", "ubuntu-lowlatency", "6.5.0-9-lowlatency", "9.1", ""}},
		{"ubuntu-24.04-generic", want{"ubuntu", "ubuntu-generic", "6.8.0-49-generic", "49", ""}},
		{"ubuntu-24.04-hwe", want{"ubuntu", "ubuntu-generic", "6.11.0-26-generic", "26~24.04.1", ""}},
		{"ubuntu-24.04-raspi", want{"ubuntu", "ubuntu-raspi", "6.8.0-1051-raspi", "55", ""}},
		{"centos-7", want{"centos", "centos", "3.10.0-1160.el7.x86_64", "1", ""}},
		{"centos-6-no-os-release", want{"centos", "centos", "2.6.32-754.el6.x86_64", "1", ""}},
		{"rhel-6-no-os-release", want{"rhel", "rhel", "2.6.32-754.el6.x86_64", "1", ""}},
		{"rhel-9", want{"rhel", "rhel", "5.14.0-284.11.1.el9_2.x86_64", "1", ""}},
		{"almalinux-9", want{"almalinux", "almalinux", "5.14.0-362.8.1.el9_3.x86_64", "1", ""}},
		{"rocky-9", want{"rocky", "rocky", "5.14.0-362.18.1.el9_3.x86_64", "1", ""}},
		{"oraclelinux-8-usr-lib-only", want{"ol", "ol", "5.15.0-200.131.27.el8uek.x86_64", "2", ""}},
		{"amazonlinux-2018.03", want{"amzn", "amazonlinux", "4.14.262-135.489.amzn1.x86_64", "1", ""}},
		{"amazonlinux-2", want{"amzn", "amazonlinux2", "4.14.171-136.231.amzn2.x86_64", "1", ""}},
		{"amazonlinux-2022", want{"amzn", "amazonlinux2022", "5.10.75-82.359.amzn2022.x86_64", "1", ""}},
		{"amazonlinux-2023", want{"amzn", "amazonlinux2023", "6.1.38-59.109.amzn2023.x86_64", "1", ""}},
		{"fedora-39", want{"fedora", "fedora", "6.5.6-300.fc39.x86_64", "1", ""}},
		{"cos-109", want{"cos", "cos", "6.1.58+", "1", "17800.66.78"}},
		{"flatcar-3760", want{"flatcar", "flatcar", "3760.2.0", "1", ""}},
		{"bottlerocket-1.12-aws-k8s", want{"bottlerocket", "bottlerocket", "5.15.59", "1_1.12.0-aws", ""}},
		{"minikube-1.26", want{"minikube", "minikube", "5.10.57", "1_1.26.0", ""}},
		{"talos-1.7", want{"talos", "talos", "6.6.43-talos", "1_v1.7.6", ""}},
		{"arch", want{"arch", "arch", "6.7.2-arch1-2", "1", ""}},
		{"photon-3", want{"photon", "photon", "4.19.283-3.ph3", "1", ""}},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		seen[c.host] = true
		t.Run(c.host, func(t *testing.T) {
			root, k := loadHost(t, c.host)
			got, err := Detect(root, k)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, want{got.Distro, got.ID, got.FixedKernelRelease, got.FixedKernelVersion, got.BuildID}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if got.KernelRelease != k.Release || got.KernelVersion != k.Version || got.Arch != "x86_64" {
				t.Errorf("raw kernel not kept: %+v", got)
			}
			if len(got.Warnings) != 0 {
				t.Errorf("warnings: %v", got.Warnings)
			}
		})
	}
	// Every sample has an expectation.
	entries, _ := os.ReadDir(filepath.Join("testdata", "hosts"))
	for _, e := range entries {
		if e.IsDir() && !seen[e.Name()] && e.Name() != "unknown-empty-root" {
			t.Errorf("sample %s has no expectation", e.Name())
		}
	}
}

func TestDetectUndetermined(t *testing.T) {
	root, k := loadHost(t, "unknown-empty-root")
	got, err := Detect(root, k)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != Undetermined || got.Distro != Undetermined || got.FixedKernelVersion != "1" || len(got.Warnings) != 1 {
		t.Errorf("got %+v", got)
	}
}

func TestDetectURL(t *testing.T) {
	root, k := loadHost(t, "debian-12-cloud")
	tg, err := Detect(root, k)
	if err != nil {
		t.Fatal(err)
	}
	got := URL(DefaultRepo+"/", "8.0.0+driver", tg.Arch, FileName("falco", Kmod, tg))
	want := "https://download.falco.org/driver/8.0.0%2Bdriver/x86_64/falco_debian_6.1.38-2-cloud-amd64_1.ko"
	if got != want {
		t.Errorf("URL = %s\nwant  %s", got, want)
	}
	if got := FileName("falco", EBPF, tg); got != "falco_debian_6.1.38-2-cloud-amd64_1.o" {
		t.Errorf("ebpf file = %s", got)
	}
}

// writeHost builds a host root from path → content ("->target" makes a link).
func writeHost(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(c, "->"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestDetectRules(t *testing.T) {
	k := Kernel{Release: "6.1.0-10-cloud-amd64", Version: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.38-2 (2023-07-27)", Arch: "aarch64"}
	cases := []struct {
		name     string
		files    map[string]string
		k        Kernel
		id       string
		release  string
		version  string
		warnings int
	}{
		{
			// A host's absolute link must resolve inside the host root, not
			// to the machine ferry runs on.
			name:  "absolute os-release link",
			files: map[string]string{"etc/os-release": "->/usr/lib/os-release", "usr/lib/os-release": "ID=debian\n"},
			k:     k, id: "debian", release: "6.1.38-2-cloud-amd64", version: "1",
		},
		{
			name:  "link climbing out of the root stays inside",
			files: map[string]string{"etc/os-release": "->../../../../usr/lib/os-release", "usr/lib/os-release": "ID=fedora\n"},
			k:     k, id: "fedora", release: k.Release, version: "1",
		},
		{
			name:  "usr/lib fallback",
			files: map[string]string{"usr/lib/os-release": "ID='rocky'\n"},
			k:     k, id: "rocky", release: k.Release, version: "1",
		},
		{
			name:  "ID is lowercased",
			files: map[string]string{"etc/os-release": "ID=\"CentOS\"\n"},
			k:     k, id: "centos", release: k.Release, version: "1",
		},
		{
			name:  "debian without a real version in uname -v keeps the release",
			files: map[string]string{"etc/os-release": "ID=debian\n"},
			k:     Kernel{Release: "5.10.0-0.deb10.22-amd64", Version: "1", Arch: "x86_64"},
			id:    "debian", release: "5.10.0-0.deb10.22-amd64", version: "1",
		},
		{
			name:  "debian arm64 flavour",
			files: map[string]string{"etc/os-release": "ID=debian\n"},
			k:     Kernel{Release: "6.1.0-18-arm64", Version: "#1 SMP Debian 6.1.76-1 (2024-02-01)", Arch: "aarch64"},
			id:    "debian", release: "6.1.76-1-arm64", version: "1",
		},
		{
			name:  "ubuntu flavour with a trailing version",
			files: map[string]string{"etc/os-release": "ID=ubuntu\n"},
			k:     Kernel{Release: "5.0.0-1028-aws-5.0", Version: "#26-Ubuntu SMP", Arch: "x86_64"},
			id:    "ubuntu-aws", release: "5.0.0-1028-aws-5.0", version: "26",
		},
		{
			name:  "ubuntu without a flavour",
			files: map[string]string{"etc/os-release": "ID=ubuntu\n"},
			k:     Kernel{Release: "5.0.0", Version: "26", Arch: "x86_64"},
			id:    "ubuntu-generic", release: "5.0.0", version: "26",
		},
		{
			name:  "minikube without a version in /etc/VERSION is its os-release ID",
			files: map[string]string{"etc/os-release": "ID=buildroot\n", "etc/VERSION": "unknown\n"},
			k:     k, id: "buildroot", release: k.Release, version: "1",
		},
		{
			name:  "minikube by /etc/VERSION alone",
			files: map[string]string{"etc/VERSION": "v1.32.0-1700142131-17634\n"},
			k:     k, id: "minikube", release: k.Release, version: "1_1.32.0",
		},
		{
			name:  "bottlerocket variant without a dash",
			files: map[string]string{"etc/os-release": "ID=bottlerocket\nVERSION_ID=1.17.0\nVARIANT_ID=aws\n"},
			k:     k, id: "bottlerocket", release: k.Release, version: "1_1.17.0-aws",
		},
		{
			name:  "bottlerocket without VARIANT_ID is undetermined, as in falcoctl",
			files: map[string]string{"etc/os-release": "ID=bottlerocket\nVERSION_ID=1.11.0\n"},
			k:     k, id: "undetermined", release: k.Release, version: "1", warnings: 2,
		},
		{
			name:  "talos without VERSION_ID",
			files: map[string]string{"etc/os-release": "ID=talos\n"},
			k:     k, id: "undetermined", release: k.Release, version: "1", warnings: 2,
		},
		{
			name:  "flatcar without VERSION_ID",
			files: map[string]string{"etc/os-release": "ID=flatcar\n"},
			k:     k, id: "undetermined", release: k.Release, version: "1", warnings: 2,
		},
		{
			name:  "cos without BUILD_ID",
			files: map[string]string{"etc/os-release": "ID=cos\n"},
			k:     k, id: "undetermined", release: k.Release, version: "1", warnings: 2,
		},
		{
			name:  "talos without VERSION_ID, but a release file",
			files: map[string]string{"etc/os-release": "ID=talos\n", "etc/redhat-release": "x\n"},
			k:     k, id: "rhel", release: k.Release, version: "1", warnings: 1,
		},
		{
			name:  "KEY = value lines, as falcoctl's ini reader reads them",
			files: map[string]string{"etc/os-release": "ID = talos\nVERSION_ID = \"v1.6.0\"\n"},
			k:     k, id: "talos", release: k.Release, version: "1_v1.6.0",
		},
		{
			name:  "amazon linux without VERSION_ID",
			files: map[string]string{"etc/os-release": "ID=\"amzn\"\n"},
			k:     k, id: "undetermined", release: k.Release, version: "1", warnings: 2,
		},
		{
			name:  "generic keeps a version without a build number",
			files: map[string]string{"etc/os-release": "ID=opensuse-leap\n"},
			k:     Kernel{Release: "5.14.21-150500.55.39-default", Version: "1", Arch: "x86_64"},
			id:    "opensuse-leap", release: "5.14.21-150500.55.39-default", version: "1",
		},
		{
			name:  "generic takes the first build number",
			files: map[string]string{"etc/os-release": "ID=arch\n"},
			k:     Kernel{Release: "6.7.2-arch1-2", Version: "#231asfa #rf3f", Arch: "x86_64"},
			id:    "arch", release: "6.7.2-arch1-2", version: "231",
		},
		{
			name:  "os-release without ID falls back to the release files",
			files: map[string]string{"etc/os-release": "NAME=x\n", "etc/redhat-release": "Red Hat\n"},
			k:     k, id: "rhel", release: k.Release, version: "1",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Detect(writeHost(t, c.files), c.k)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != c.id || got.FixedKernelRelease != c.release || got.FixedKernelVersion != c.version || len(got.Warnings) != c.warnings {
				t.Errorf("got id=%s release=%s version=%s warnings=%v, want %s %s %s (%d warnings)",
					got.ID, got.FixedKernelRelease, got.FixedKernelVersion, got.Warnings, c.id, c.release, c.version, c.warnings)
			}
		})
	}
}

func TestParseOSRelease(t *testing.T) {
	in := `# comment
NAME="Fedora Linux"
ID=fedora
  VERSION_ID=39
PRETTY_NAME='single quoted'
ESCAPED="a \"b\" \$c \\ d"
BAD LINE
=novalue
1X=digit first
EMPTY=
`
	want := map[string]string{
		"NAME": "Fedora Linux", "ID": "fedora", "VERSION_ID": "39", "PRETTY_NAME": "single quoted",
		"ESCAPED": `a "b" $c \ d`, "EMPTY": "",
	}
	if diff := cmp.Diff(want, ParseOSRelease([]byte(in))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestHostPathLoop(t *testing.T) {
	root := writeHost(t, map[string]string{"etc/a": "->b", "etc/b": "->a"})
	if _, _, err := readHostFile(root, "etc/a"); err == nil {
		t.Error("a link loop must be an error")
	}
}

func TestChooseType(t *testing.T) {
	tg := func(distro, release, arch string) Target {
		return Target{Distro: distro, ID: distro, KernelRelease: release, Arch: arch}
	}
	cases := []struct {
		prefs []Type
		tg    Target
		want  Type
		err   bool
	}{
		{DefaultTypes(), tg("debian", "6.1.0-10-cloud-amd64", "x86_64"), ModernEBPF, false},
		{DefaultTypes(), tg("centos", "3.10.0-1160.el7.x86_64", "x86_64"), Kmod, false},
		{DefaultTypes(), tg("ubuntu", "5.4.0-150-generic", "x86_64"), Kmod, false},
		{[]Type{Kmod}, tg("cos", "6.1.58+", "x86_64"), "", true},
		{[]Type{Kmod, EBPF}, tg("cos", "6.1.58+", "x86_64"), EBPF, false},
		{[]Type{EBPF}, tg("centos", "3.10.0-1160.el7.x86_64", "x86_64"), "", true},
		{[]Type{EBPF}, tg("debian", "4.14.0", "x86_64"), EBPF, false},
		{[]Type{EBPF}, tg("debian", "4.16.0", "aarch64"), "", true},
		{[]Type{Kmod}, tg("debian", "3.15.0", "aarch64"), "", true},
		{[]Type{ModernEBPF}, tg("x", "not-a-version", "x86_64"), ModernEBPF, false},
	}
	for _, c := range cases {
		got, err := ChooseType(c.prefs, c.tg)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("ChooseType(%v, %s %s %s) = %q, %v", c.prefs, c.tg.Distro, c.tg.KernelRelease, c.tg.Arch, got, err)
		}
	}
}

func TestParseTypes(t *testing.T) {
	got, err := ParseTypes([]string{"kmod", "auto", "ebpf"})
	if err != nil || !cmp.Equal(got, []Type{Kmod, ModernEBPF, EBPF}) {
		t.Errorf("got %v, %v", got, err)
	}
	for _, bad := range [][]string{{"module"}, {}, {"kmod", "x"}} {
		if _, err := ParseTypes(bad); err == nil {
			t.Errorf("ParseTypes(%q) accepted", bad)
		}
	}
}

func TestDetectVersion(t *testing.T) {
	a := writeHost(t, map[string]string{"usr/src/falco-7.0.0+driver/x": "", "usr/src/falco-10.0.0+driver/x": "", "usr/src/falco-9.9.9+driver": "a file, not sources"})
	b := writeHost(t, map[string]string{"usr/src/falco-8.0.0+driver/x": "", "usr/src/other-99.0.0/x": ""})
	if got := DetectVersion("falco", a, b); got != "10.0.0+driver" {
		t.Errorf("got %q", got)
	}
	if got := DetectVersion("falco", t.TempDir()); got != "" {
		t.Errorf("got %q", got)
	}
}
