package main

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The offline build: ferry's image assembled from this machine's files, with
// no base image to pull. It holds what the Dockerfile's final stages hold
// (compared file by file before anything is written), with Debian's
// busybox-static as /bin/sh and Debian's CA bundle in place of Alpine's.

const (
	ferryUID  = 65532
	ferryHome = "/home/ferry"
)

// variants are the images built from one root file system: ferry's, and the
// one with falcoctl as its entrypoint for Falco's chart. Their names are the
// Dockerfile's stage names.
var variants = []string{"ferry", "falcoctl"}

type hostFiles struct {
	Binary, Loader, Busybox, CACerts string
}

// offlineLayouts is the offline image, by variant.
func offlineLayouts(h hostFiles) map[string]*layout {
	l := newLayout()
	for _, d := range []string{"/bin", "/etc/ssl/certs", "/home", "/usr/bin", "/usr/share", "/var/lib"} {
		l.mkdirAll(d, 0o755)
	}
	l.mkdirAll("/root", 0o700)
	l.mkdirAll("/tmp", 0o777|fs.ModeSticky)
	l.users = []account{{Name: "root", ID: 0, GID: 0, Home: "/root"}, {Name: "ferry", ID: ferryUID, GID: ferryUID, Home: ferryHome}}
	l.groups = []account{{Name: "root", ID: 0}, {Name: "ferry", ID: ferryUID}}
	l.add(entry{Path: "/etc/passwd", Type: 'f', Mode: 0o644})
	l.add(entry{Path: "/etc/group", Type: 'f', Mode: 0o644})
	l.add(entry{Path: "/bin/busybox", Type: 'f', Mode: 0o755, Source: h.Busybox})
	l.add(entry{Path: "/bin/sh", Type: 'l', Target: "/bin/busybox"})
	l.add(entry{Path: "/etc/ssl/certs/ca-certificates.crt", Type: 'f', Mode: 0o644, Source: h.CACerts})
	// Falco's directories and ferry's state, writable by ferry.
	for _, d := range []string{ferryHome, "/etc/falco", "/etc/falco/assets", "/usr/share/falco", "/usr/share/falco/plugins", "/var/lib/ferry"} {
		l.mkdirAll(d, 0o755)
		e := l.files[d]
		e.UID, e.GID = ferryUID, ferryUID
		l.files[d] = e
	}
	l.add(entry{Path: "/usr/bin/ferry", Type: 'f', Mode: 0o755, Source: h.Binary})
	l.add(entry{Path: "/usr/bin/falcoctl", Type: 'l', Target: "ferry"})
	l.add(entry{Path: "/usr/bin/falco-driver-loader", Type: 'f', Mode: 0o755, Source: h.Loader})
	l.config = config{
		Env:        []string{"PATH=" + defaultPath, "HOME=" + ferryHome},
		User:       "65532:65532",
		Entrypoint: []string{"/usr/bin/ferry"},
		Cmd:        []string{"--help"},
		Labels: map[string]string{
			"org.opencontainers.image.title":       "ferry",
			"org.opencontainers.image.description": "Install and publish Falco artifacts and drivers",
			"org.opencontainers.image.source":      "https://github.com/ferryhq/ferry",
		},
	}
	f := l.clone()
	f.config.Entrypoint = []string{"/usr/bin/falcoctl"}
	f.config.Cmd = nil
	return map[string]*layout{"ferry": l, "falcoctl": f}
}

// compareWithDockerfile fails unless each variant's offline layout is the
// Dockerfile stage's of that name, and the Dockerfile's default target is
// ferry's.
func compareWithDockerfile(docker, offline map[string]*layout) error {
	var out []string
	check := func(stage, variant string) {
		d, ok := docker[stage]
		if !ok {
			out = append(out, fmt.Sprintf("the Dockerfile has no stage %q", stage))
			return
		}
		for _, line := range diff(d, offline[variant]) {
			out = append(out, fmt.Sprintf("%s: %s", variant, line))
		}
	}
	for _, v := range variants {
		check(v, v)
	}
	check("", "ferry") // what `docker build .` builds
	if len(out) > 0 {
		return fmt.Errorf("the offline image differs from the Dockerfile's:\n  %s", strings.Join(out, "\n  "))
	}
	return nil
}

// epoch is every entry's modification time: the same inputs give the same
// tarball.
var epoch = time.Unix(0, 0).UTC()

// writeRootfs writes l's files as a tar stream, parents first.
func writeRootfs(w io.Writer, l *layout) error {
	tw := tar.NewWriter(w)
	for _, e := range l.sorted() {
		if e.Path == "/" {
			continue
		}
		h := &tar.Header{
			Name:    strings.TrimPrefix(e.Path, "/"),
			Mode:    modeBits(e.Mode),
			Uid:     e.UID,
			Gid:     e.GID,
			ModTime: epoch,
			Format:  tar.FormatPAX,
		}
		var body io.Reader
		switch e.Type {
		case 'd':
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		case 'l':
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, e.Target, 0o777
		case 'f':
			h.Typeflag = tar.TypeReg
			var data []byte
			switch {
			case e.Path == "/etc/passwd":
				data = []byte(l.passwd())
			case e.Path == "/etc/group":
				data = []byte(l.groupFile())
			case e.Source == "":
				return fmt.Errorf("%s has no content", e.Path)
			}
			if data != nil {
				h.Size, body = int64(len(data)), strings.NewReader(string(data))
				break
			}
			f, err := os.Open(e.Source)
			if err != nil {
				return err
			}
			defer f.Close()
			fi, err := f.Stat()
			if err != nil {
				return err
			}
			if !fi.Mode().IsRegular() {
				return fmt.Errorf("%s (for %s) is not a regular file", e.Source, e.Path)
			}
			h.Size, body = fi.Size(), f
		default:
			return fmt.Errorf("%s: unknown type %c", e.Path, e.Type)
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if body != nil {
			if n, err := io.Copy(tw, body); err != nil {
				return fmt.Errorf("%s: %w", e.Path, err)
			} else if n != h.Size {
				return fmt.Errorf("%s changed while it was copied", e.Source)
			}
		}
	}
	return tw.Close()
}

// changes are the image configuration as `podman import --change` (and
// `docker import --change`) instructions, one a line.
func changes(c config) []string {
	quote := func(list []string) string {
		parts := make([]string, len(list))
		for i, s := range list {
			parts[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	var out []string
	for _, kv := range c.Env {
		out = append(out, "ENV "+kv)
	}
	keys := make([]string, 0, len(c.Labels))
	for k := range c.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, fmt.Sprintf("LABEL %s=%s", k, strconv.Quote(c.Labels[k])))
	}
	out = append(out, "USER "+c.User, "ENTRYPOINT "+quote(c.Entrypoint))
	if len(c.Cmd) > 0 {
		out = append(out, "CMD "+quote(c.Cmd))
	}
	return out
}

// buildOffline checks the host files, compares the offline layout with the
// Dockerfile's and writes dir/rootfs.tar and dir/VARIANT.changes.
func buildOffline(w io.Writer, h hostFiles, docker map[string]*layout, dir string) error {
	for _, bin := range []struct{ path, fix string }{
		{h.Binary, "build it with make build"},
		{h.Busybox, "apt-get install busybox-static"},
	} {
		if _, err := checkBinary(bin.path); err != nil {
			return fmt.Errorf("%w (%s)", err, bin.fix)
		}
	}
	for _, f := range []string{h.Loader, h.CACerts} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%w (the CA bundle comes from apt-get install ca-certificates)", err)
		}
	}
	offline := offlineLayouts(h)
	if err := compareWithDockerfile(docker, offline); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tarPath := filepath.Join(dir, "rootfs.tar")
	if err := writeFileAtomic(tarPath, func(f io.Writer) error { return writeRootfs(f, offline["ferry"]) }); err != nil {
		return err
	}
	for _, v := range variants {
		body := strings.Join(changes(offline[v].config), "\n") + "\n"
		if err := writeFileAtomic(filepath.Join(dir, v+".changes"), func(f io.Writer) error {
			_, err := io.WriteString(f, body)
			return err
		}); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "offline image: %d entries, the same as the Dockerfile's stages %s; wrote %s and %s\n",
		len(offline["ferry"].files), strings.Join(variants, ", "), tarPath, filepath.Join(dir, "{"+strings.Join(variants, ",")+"}.changes"))
	return nil
}

func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
