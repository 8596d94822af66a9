package main

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	binary := flag.String("binary", "bin/ferry", "the binary the image ships")
	dockerfile := flag.String("dockerfile", "Dockerfile", "the Dockerfile")
	context := flag.String("context", ".", "the build context")
	rootfs := flag.String("rootfs", "", "also build the image offline: write `DIR`/rootfs.tar and DIR/{ferry,falcoctl}.changes")
	busybox := flag.String("busybox", "/bin/busybox", "the static busybox that is the offline image's /bin/sh")
	caCerts := flag.String("ca-certs", "/etc/ssl/certs/ca-certificates.crt", "the CA bundle of the offline image")
	flag.Parse()
	host := hostFiles{Binary: *binary, Loader: filepath.Join(*context, "scripts", "falco-driver-loader"), Busybox: *busybox, CACerts: *caCerts}
	if err := run(os.Stdout, *dockerfile, *context, host, *rootfs); err != nil {
		fmt.Fprintln(os.Stderr, "image-check:", err)
		os.Exit(1)
	}
	fmt.Println("image-check: ok")
}

func run(w io.Writer, dockerfile, context string, host hostFiles, rootfs string) error {
	var errs []error
	binary := host.Binary
	info, err := checkBinary(binary)
	if err != nil {
		errs = append(errs, err)
	} else {
		fmt.Fprintf(w, "binary %s: static (no PT_INTERP, no DT_NEEDED), %s, %.1f MiB (%d bytes)\n",
			binary, info.strippedText(), float64(info.size)/(1<<20), info.size)
		if !info.stripped {
			errs = append(errs, fmt.Errorf("%s is not stripped (build with -ldflags '-s -w')", binary))
		}
	}
	report, err := checkDockerfile(dockerfile, context)
	for _, line := range report {
		fmt.Fprintln(w, line)
	}
	if err != nil {
		errs = append(errs, err)
	}
	stages, err := dockerfileStages(dockerfile, context)
	if err != nil {
		errs = append(errs, err)
	} else {
		fmt.Fprintf(w, "%s: the layout of stages %s modelled (%d entries)\n", dockerfile, strings.Join(variants, ", "), len(stages["ferry"].files))
		if err := compareWithDockerfile(stages, offlineLayouts(host)); err != nil {
			errs = append(errs, err)
		} else {
			fmt.Fprintf(w, "%s: the offline build (make image) has the same layout\n", dockerfile)
		}
	}
	if len(errs) == 0 && rootfs != "" {
		errs = append(errs, buildOffline(w, host, stages, rootfs))
	}
	return errors.Join(errs...)
}

// dockerfileStages is the layout of the Dockerfile's image stages, each of
// whose entrypoint must be an executable in it.
func dockerfileStages(path, context string) (map[string]*layout, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ins, err := parseDockerfile(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	stages, err := dockerfileLayouts(ins, context)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, v := range variants {
		l, ok := stages[v]
		if !ok {
			return nil, fmt.Errorf("%s: no stage %s", path, v)
		}
		if err := l.executable(l.config.Entrypoint); err != nil {
			return nil, fmt.Errorf("%s: stage %s: %w", path, v, err)
		}
	}
	return stages, nil
}

type binaryInfo struct {
	size     int64
	stripped bool
}

func (b binaryInfo) strippedText() string {
	if b.stripped {
		return "stripped"
	}
	return "NOT stripped"
}

// checkBinary fails unless path is a static ELF executable.
func checkBinary(path string) (binaryInfo, error) {
	f, err := elf.Open(path)
	if err != nil {
		return binaryInfo{}, fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return binaryInfo{}, fmt.Errorf("%s is dynamically linked: it has a PT_INTERP program header (build with CGO_ENABLED=0)", path)
		}
	}
	if f.Section(".dynamic") != nil {
		libs, err := f.ImportedLibraries()
		if err != nil {
			return binaryInfo{}, fmt.Errorf("reading %s's dynamic section: %w", path, err)
		}
		if len(libs) > 0 {
			return binaryInfo{}, fmt.Errorf("%s needs shared libraries (DT_NEEDED): %s", path, strings.Join(libs, ", "))
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return binaryInfo{}, err
	}
	return binaryInfo{size: fi.Size(), stripped: f.Section(".symtab") == nil}, nil
}

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int
	cmd  string // upper case
	args string
}

func parseDockerfile(r io.Reader) ([]instruction, error) {
	var out []instruction
	sc := bufio.NewScanner(r)
	var cur strings.Builder
	start, n := 0, 0
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur.Len() > 0 && strings.HasPrefix(trimmed, "#") {
			continue // comments inside a continued instruction
		}
		if cur.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	if cur.Len() > 0 {
		return nil, fmt.Errorf("line %d: instruction continues past the end of the file", start)
	}
	return out, sc.Err()
}

// copyArgs splits COPY/ADD arguments into flags, sources and destination.
func copyArgs(args string) (flags map[string]string, srcs []string, dst string, err error) {
	flags = map[string]string{}
	var words []string
	if strings.HasPrefix(args, "[") {
		if err := json.Unmarshal([]byte(args), &words); err != nil {
			return nil, nil, "", fmt.Errorf("bad JSON form %s: %w", args, err)
		}
	} else {
		words = strings.Fields(args)
		for len(words) > 0 && strings.HasPrefix(words[0], "--") {
			k, v, _ := strings.Cut(strings.TrimPrefix(words[0], "--"), "=")
			flags[k] = v
			words = words[1:]
		}
	}
	if len(words) < 2 {
		return nil, nil, "", fmt.Errorf("want at least a source and a destination in %q", args)
	}
	return flags, words[:len(words)-1], words[len(words)-1], nil
}

func checkDockerfile(path, context string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ins, err := parseDockerfile(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ignore, err := readDockerignore(filepath.Join(context, ".dockerignore"))
	if err != nil {
		return nil, err
	}
	var (
		report  []string
		errs    []error
		sources []string
		stages  []string
		base    string
		user    string
		entry   []string
		copied  = map[string]string{} // destination → source, in the final stage
		cur     string
		done    = map[string]stageState{}
	)
	fail := func(in instruction, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s %s", path, in.line, in.cmd, fmt.Sprintf(format, a...)))
	}
	for _, in := range ins {
		switch in.cmd {
		case "FROM":
			if cur != "" {
				done[cur] = stageState{base, user, entry, copied}
			}
			words := strings.Fields(in.args)
			image := ""
			for _, w := range words {
				if !strings.HasPrefix(w, "--") {
					image = w
					break
				}
			}
			name := image
			if i := strings.LastIndex(image, "/"); i >= 0 {
				name = image[i+1:]
			}
			if _, isStage := done[image]; !isStage && !strings.Contains(image, "@sha256:") && (!strings.Contains(name, ":") || strings.HasSuffix(name, ":latest")) {
				fail(in, "%s is not pinned by tag or digest", image)
			}
			cur = "(unnamed)"
			if len(words) >= 3 && strings.EqualFold(words[len(words)-2], "AS") {
				cur = words[len(words)-1]
			}
			stages = append(stages, cur)
			if parent, ok := done[image]; ok {
				// A stage built on an earlier one starts with what it had.
				base, user, entry = parent.base+" (via "+image+")", parent.user, append([]string(nil), parent.entry...)
				copied = map[string]string{}
				for k, v := range parent.copied {
					copied[k] = v
				}
			} else {
				base, user, entry, copied = image, "", nil, map[string]string{}
			}
		case "COPY", "ADD":
			flags, srcs, dst, err := copyArgs(in.args)
			if err != nil {
				fail(in, "%v", err)
				continue
			}
			if from, ok := flags["from"]; ok {
				for _, s := range srcs {
					copied[copyDest(dst, s)] = "stage " + from + ":" + s
				}
				continue
			}
			for _, s := range srcs {
				if in.cmd == "ADD" && (strings.Contains(s, "://") || strings.HasPrefix(s, "git@")) {
					continue
				}
				if err := checkSource(context, s, ignore); err != nil {
					fail(in, "%v", err)
					continue
				}
				sources = append(sources, s)
				copied[copyDest(dst, s)] = s
			}
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entry = nil
			if err := json.Unmarshal([]byte(in.args), &entry); err != nil {
				entry = strings.Fields(in.args)
			}
		}
	}
	report = append(report, fmt.Sprintf("%s: %d stages; COPY/ADD sources present in the context: %s", path, len(stages), strings.Join(sources, ", ")))
	last := instruction{line: len(ins), cmd: "(final stage)"}
	switch uid, _, _ := strings.Cut(user, ":"); {
	case user == "":
		fail(last, "runs as root: no USER")
	case uid == "0" || uid == "root":
		fail(last, "runs as root: USER %s", user)
	}
	if len(entry) == 0 {
		fail(last, "has no ENTRYPOINT")
	} else if src, ok := copied[entry[0]]; !ok {
		fail(last, "entrypoint %s is not copied into the final stage", entry[0])
	} else {
		report = append(report, fmt.Sprintf("%s: final stage %s runs as user %s; entrypoint %s comes from %s", path, base, user, entry[0], src))
	}
	return report, errors.Join(errs...)
}

// stageState is what a stage ends with, for the stages built on it.
type stageState struct {
	base, user string
	entry      []string
	copied     map[string]string
}

// copyDest is where COPY puts src given dst.
func copyDest(dst, src string) string {
	if strings.HasSuffix(dst, "/") {
		return dst + filepath.Base(src)
	}
	return dst
}

// checkSource fails unless the source matches something in the context that
// .dockerignore keeps.
func checkSource(context, src string, ignore []string) error {
	clean := filepath.Clean(strings.TrimPrefix(src, "/"))
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return fmt.Errorf("%s is outside the build context", src)
	}
	matches, err := filepath.Glob(filepath.Join(context, clean))
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	if len(matches) == 0 {
		return fmt.Errorf("%s does not exist in the build context %s", src, context)
	}
	if clean != "." {
		for _, p := range ignore {
			if ok, _ := filepath.Match(p, clean); ok || strings.HasPrefix(clean, p+"/") {
				return fmt.Errorf("%s is excluded by .dockerignore (%s)", src, p)
			}
		}
	}
	return nil
}

func readDockerignore(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "!") {
			continue
		}
		out = append(out, filepath.Clean(strings.TrimPrefix(line, "/")))
	}
	return out, nil
}
