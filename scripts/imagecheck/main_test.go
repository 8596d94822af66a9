package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCheckDockerfile(t *testing.T) {
	good := `# syntax=docker/dockerfile:1
FROM golang:1.26.8-alpine AS build
COPY . .
RUN go build \
    -o /out/ferry ./cmd/ferry
FROM alpine:3.22
COPY --from=build /out/ferry /usr/bin/ferry
COPY --chmod=0755 scripts/tool /usr/bin/
USER 65532:65532
ENTRYPOINT ["/usr/bin/ferry"]
`
	cases := []struct {
		name, dockerfile, ignore string
		want                     []string // error substrings; none = ok
	}{
		{"good", good, "", nil},
		{"missing source", strings.Replace(good, "scripts/tool", "scripts/nope", 1), "", []string{"scripts/nope does not exist"}},
		{"ignored source", good, "scripts\n", []string{"excluded by .dockerignore"}},
		{"root user", strings.Replace(good, "USER 65532:65532", "USER root", 1), "", []string{"runs as root"}},
		{"no user", strings.Replace(good, "USER 65532:65532\n", "", 1), "", []string{"no USER"}},
		{"unpinned", strings.Replace(good, "alpine:3.22", "alpine", 1), "", []string{"not pinned"}},
		{"latest", strings.Replace(good, "alpine:3.22", "alpine:latest", 1), "", []string{"not pinned"}},
		{"entrypoint not copied", strings.Replace(good, `["/usr/bin/ferry"]`, `["/bin/other"]`, 1), "", []string{"not copied"}},
		{"outside context", strings.Replace(good, "scripts/tool", "../secret", 1), "", []string{"outside the build context"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, "Dockerfile", c.dockerfile)
			write(t, dir, "scripts/tool", "#!/bin/sh\n")
			if c.ignore != "" {
				write(t, dir, ".dockerignore", c.ignore)
			}
			_, err := checkDockerfile(filepath.Join(dir, "Dockerfile"), dir)
			if len(c.want) == 0 && err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want %q", err, w)
				}
			}
		})
	}
}

func TestCheckBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	dir := t.TempDir()
	write(t, dir, "go.mod", "module x\n\ngo 1.22\n")
	write(t, dir, "main.go", "package main\n\nfunc main() {}\n")
	build := func(out string, args ...string) string {
		cmd := exec.Command("go", append([]string{"build", "-o", out}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		return filepath.Join(dir, out)
	}
	info, err := checkBinary(build("stripped", "-ldflags=-s -w", "."))
	if err != nil || !info.stripped || info.size == 0 {
		t.Errorf("stripped: %+v, %v", info, err)
	}
	info, err = checkBinary(build("full", "."))
	if err != nil || info.stripped {
		t.Errorf("full: %+v, %v", info, err)
	}
	// A dynamically linked system binary, where there is one.
	if f, err := elf.Open("/bin/ls"); err == nil {
		dynamic := false
		for _, p := range f.Progs {
			dynamic = dynamic || p.Type == elf.PT_INTERP
		}
		f.Close()
		if _, err := checkBinary("/bin/ls"); dynamic && (err == nil || !strings.Contains(err.Error(), "PT_INTERP")) {
			t.Errorf("/bin/ls: %v", err)
		}
	}
	if _, err := checkBinary(filepath.Join(dir, "main.go")); err == nil {
		t.Error("a Go source file passed as an ELF binary")
	}
}

func TestRepositoryDockerfile(t *testing.T) {
	if _, err := checkDockerfile(filepath.Join("..", "..", "Dockerfile"), filepath.Join("..", "..")); err != nil {
		t.Error(err)
	}
}
