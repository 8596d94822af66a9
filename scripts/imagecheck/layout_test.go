package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func repoStages(t *testing.T) map[string]*layout {
	t.Helper()
	stages, err := dockerfileStages(filepath.Join("..", "..", "Dockerfile"), filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return stages
}

func testHostFiles(t *testing.T) hostFiles {
	dir := t.TempDir()
	write(t, dir, "ferry", "ferry binary")
	write(t, dir, "busybox", "busybox binary")
	write(t, dir, "ca.crt", "certificates")
	return hostFiles{
		Binary: filepath.Join(dir, "ferry"), Busybox: filepath.Join(dir, "busybox"), CACerts: filepath.Join(dir, "ca.crt"),
		Loader: filepath.Join("..", "..", "scripts", "falco-driver-loader"),
	}
}

// The repository's Dockerfile and the offline build have the same file
// list, owners, modes, users and configuration, for both images.
func TestOfflineLayoutIsTheDockerfiles(t *testing.T) {
	stages := repoStages(t)
	offline := offlineLayouts(testHostFiles(t))
	if err := compareWithDockerfile(stages, offline); err != nil {
		t.Fatal(err)
	}
	var list []string
	for _, e := range stages["ferry"].sorted() {
		list = append(list, e.String())
	}
	// The entries the chart and the facade rely on, spelled out.
	for _, want := range []string{
		"/usr/bin/ferry f 0755 0:0",
		"/usr/bin/falcoctl l 0:0 -> ferry",
		"/usr/bin/falco-driver-loader f 0755 0:0",
		"/bin/sh l 0:0 -> /bin/busybox",
		"/etc/ssl/certs/ca-certificates.crt f 0644 0:0",
		"/etc/falco/assets d 0755 65532:65532",
		"/usr/share/falco/plugins d 0755 65532:65532",
		"/var/lib/ferry d 0755 65532:65532",
		"/home/ferry d 0755 65532:65532",
		"/usr/share d 0755 0:0",
		"/tmp d 1777 0:0",
	} {
		if !strings.Contains(strings.Join(list, "\n")+"\n", want+"\n") {
			t.Errorf("the Dockerfile's layout lacks %q:\n%s", want, strings.Join(list, "\n"))
		}
	}
	if got := stages["falcoctl"].config.Entrypoint; len(got) != 1 || got[0] != "/usr/bin/falcoctl" {
		t.Errorf("falcoctl stage entrypoint %q", got)
	}
	if got := stages[""].config.Entrypoint; len(got) != 1 || got[0] != "/usr/bin/ferry" {
		t.Errorf("default target entrypoint %q", got)
	}
	if u, ok := stages["ferry"].user("ferry"); !ok || u.ID != 65532 || u.GID != 65532 || u.Home != "/home/ferry" {
		t.Errorf("user ferry: %+v", u)
	}
}

// A Dockerfile that drifts from the offline build is caught, with what
// differs.
func TestDockerfileDrift(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	good := string(data)
	cases := []struct {
		name, old, new string
		want           []string
	}{
		{"extra directory", "/var/lib/ferry \\", "/var/lib/ferry /srv/x \\", []string{"only in the Dockerfile: /srv/x d 0755 0:0"}},
		{"owner", "chown -R 65532:65532 /etc/falco /usr/share/falco", "chown -R 65532:65532 /etc/falco", []string{"differs: Dockerfile /usr/share/falco d 0755 0:0, offline /usr/share/falco d 0755 65532:65532"}},
		{"no falcoctl link", " \\\n && ln -s ferry /usr/bin/falcoctl", "", []string{"no stage falcoctl", "/usr/bin/falcoctl does not exist"}},
		{"mode", "--chmod=0755 scripts/falco-driver-loader", "--chmod=0750 scripts/falco-driver-loader", []string{"/usr/bin/falco-driver-loader f 0750 0:0, offline /usr/bin/falco-driver-loader f 0755 0:0"}},
		{"user", "USER 65532:65532", "USER 65533:65533", []string{`USER: Dockerfile "65533:65533", offline "65532:65532"`}},
		{"uid", "-u 65532", "-u 1000", []string{"/etc/passwd"}},
		{"env", "ENV HOME=/home/ferry", "ENV HOME=/home/ferry FOO=bar", []string{"ENV: Dockerfile [PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/home/ferry FOO=bar]"}},
		{"default target", "# The default target: ferry's image.\nFROM ferry\n", "", []string{"ferry: ENTRYPOINT"}},
		{"unmodelled command", "apk add --no-cache ca-certificates", "apk add --no-cache ca-certificates curl", []string{"package curl is not modelled"}},
		{"unmodelled run", "&& ln -s ferry /usr/bin/falcoctl", "&& ln -s ferry /usr/bin/falcoctl && rm -rf /tmp", []string{"rm is not modelled"}},
		{"shell syntax", "&& ln -s ferry /usr/bin/falcoctl", "&& ln -s ferry /usr/bin/falcoctl && echo $HOME", []string{"variables"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(good, c.old) {
				t.Fatalf("the Dockerfile no longer contains %q: update the case", c.old)
			}
			dir := t.TempDir()
			write(t, dir, "Dockerfile", strings.Replace(good, c.old, c.new, 1))
			write(t, dir, "scripts/falco-driver-loader", "#!/bin/sh\n")
			stages, err := dockerfileStages(filepath.Join(dir, "Dockerfile"), dir)
			if err == nil {
				err = compareWithDockerfile(stages, offlineLayouts(testHostFiles(t)))
			}
			if err == nil {
				t.Fatal("no difference found")
			}
			found := false
			for _, w := range c.want {
				found = found || strings.Contains(err.Error(), w)
			}
			if !found {
				t.Errorf("err = %v\nwant one of %q", err, c.want)
			}
		})
	}
}

func TestWriteRootfs(t *testing.T) {
	h := testHostFiles(t)
	var buf bytes.Buffer
	if err := writeRootfs(&buf, offlineLayouts(h)["ferry"]); err != nil {
		t.Fatal(err)
	}
	got := map[string]*tar.Header{}
	bodies := map[string]string{}
	var order []string
	tr := tar.NewReader(&buf)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		got[hdr.Name], bodies[hdr.Name] = hdr, string(body)
		order = append(order, hdr.Name)
	}
	check := func(name string, typ byte, mode int64, uid int, body string) {
		t.Helper()
		hdr, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s is not in the tarball (%v)", name, order)
		case hdr.Typeflag != typ || (typ != tar.TypeSymlink && hdr.Mode != mode) || hdr.Uid != uid || hdr.Gid != uid:
			t.Errorf("%s: type %c mode %o owner %d:%d", name, hdr.Typeflag, hdr.Mode, hdr.Uid, hdr.Gid)
		case body != "" && bodies[name] != body:
			t.Errorf("%s holds %q, want %q", name, bodies[name], body)
		}
	}
	check("usr/bin/ferry", tar.TypeReg, 0o755, 0, "ferry binary")
	check("bin/busybox", tar.TypeReg, 0o755, 0, "busybox binary")
	check("etc/ssl/certs/ca-certificates.crt", tar.TypeReg, 0o644, 0, "certificates")
	check("etc/passwd", tar.TypeReg, 0o644, 0, "root:x:0:0:root:/root:/bin/sh\nferry:x:65532:65532:ferry:/home/ferry:/sbin/nologin\n")
	check("etc/group", tar.TypeReg, 0o644, 0, "root:x:0:\nferry:x:65532:\n")
	check("tmp/", tar.TypeDir, 0o1777, 0, "")
	check("var/lib/ferry/", tar.TypeDir, 0o755, 65532, "")
	check("usr/bin/falcoctl", tar.TypeSymlink, 0, 0, "")
	if got["usr/bin/falcoctl"] != nil && got["usr/bin/falcoctl"].Linkname != "ferry" {
		t.Errorf("falcoctl links to %q", got["usr/bin/falcoctl"].Linkname)
	}
	// Parents come before what they hold.
	seen := map[string]bool{}
	for _, name := range order {
		parent := filepath.Dir(strings.TrimSuffix(name, "/"))
		if parent != "." && !seen[parent+"/"] {
			t.Errorf("%s comes before its directory %s", name, parent)
		}
		seen[name] = true
	}
}

// The same inputs give the same bytes.
func TestWriteRootfsReproducible(t *testing.T) {
	h := testHostFiles(t)
	var a, b bytes.Buffer
	if err := writeRootfs(&a, offlineLayouts(h)["ferry"]); err != nil {
		t.Fatal(err)
	}
	if err := writeRootfs(&b, offlineLayouts(h)["ferry"]); err != nil {
		t.Fatal(err)
	}
	if a.Len() == 0 || !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two builds from the same files differ")
	}
}

func TestChanges(t *testing.T) {
	off := offlineLayouts(testHostFiles(t))
	got := strings.Join(changes(off["falcoctl"].config), "\n")
	for _, want := range []string{
		"ENV PATH=" + defaultPath, "ENV HOME=/home/ferry", "USER 65532:65532", `ENTRYPOINT ["/usr/bin/falcoctl"]`,
		`LABEL org.opencontainers.image.title="ferry"`,
	} {
		if !strings.Contains(got+"\n", want+"\n") {
			t.Errorf("falcoctl changes lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "CMD") {
		t.Errorf("the falcoctl variant has a CMD:\n%s", got)
	}
	if got := strings.Join(changes(off["ferry"].config), "\n"); !strings.Contains(got, `CMD ["--help"]`) {
		t.Errorf("ferry changes lack CMD:\n%s", got)
	}
}

func TestBuildOffline(t *testing.T) {
	h := testHostFiles(t)
	out := t.TempDir()
	var w bytes.Buffer
	// The test's binaries are not ELF files: refused, nothing written.
	if err := buildOffline(&w, h, repoStages(t), out); err == nil || !strings.Contains(err.Error(), "make build") {
		t.Errorf("err = %v", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("wrote %v", entries)
	}
}
