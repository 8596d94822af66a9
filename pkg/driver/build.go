package driver

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

var (
	// ErrNoSource means the driver sources for the version are not installed
	// (<host root>/usr/src/<name>-<version>).
	ErrNoSource = errors.New("no driver sources")
	// ErrNoHeaders means the kernel headers (build directory) for the kernel
	// release are not installed.
	ErrNoHeaders = errors.New("no kernel headers")
	// ErrBuild means building the driver failed.
	ErrBuild = errors.New("building the driver failed")
)

// DefaultBuildTimeout bounds one build attempt (one compiler).
const DefaultBuildTimeout = 10 * time.Minute

// buildLogTail is how many lines of the build log a failure quotes.
const buildLogTail = 20

// BuildOptions configure local builds, used when no prebuilt driver is
// found and Request.Compile is set.
type BuildOptions struct {
	// HostRoot is where the driver sources (usr/src/<name>-<version>) and
	// the kernel headers (lib/modules/<release>/build, usr/src/kernels/<release>,
	// usr/src/linux-headers-<release>) are looked up ("" = /).
	HostRoot string
	// KernelDir, if set, is the kernel build directory to use (KERNELDIR).
	KernelDir string
	// LogDir receives the build log, <LogDir>/<driver version>/<file
	// name>.log (default <StateDir>/driver-build).
	LogDir string
	// DKMSTree is DKMS's tree (default /var/lib/dkms, DKMS's own default).
	DKMSTree string
	// NoDKMS builds kernel modules with make even when dkms is installed.
	NoDKMS bool
	// Timeout bounds each attempt (default DefaultBuildTimeout).
	Timeout time.Duration
}

// BuildError is a failed build: what was run and the end of its log.
type BuildError struct {
	What string
	// Log is the build log's path; Tail its last lines.
	Log  string
	Tail []string
	Err  error
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("building the %s failed: %v (build log: %s)", e.What, e.Err, e.Log)
}

func (e *BuildError) Unwrap() error { return e.Err }

// Is makes every BuildError match ErrBuild.
func (e *BuildError) Is(target error) bool { return target == ErrBuild }

// SourceDir is where Falco's packages install the driver sources (a DKMS
// tree: dkms.conf, Makefile, the sources, and bpf/ for the eBPF probe).
func SourceDir(hostRoot, name, version string) string {
	return filepath.Join(rootName(hostRoot), "usr", "src", name+"-"+version)
}

// KernelDirCandidates are the kernel build directories looked up for a
// release, under the host root, in order.
func KernelDirCandidates(hostRoot, release string) []string {
	root := rootName(hostRoot)
	return []string{
		filepath.Join(root, "lib", "modules", release, "build"),
		filepath.Join(root, "usr", "src", "kernels", release),
		filepath.Join(root, "usr", "src", "linux-headers-"+release),
	}
}

// HeadersPackage names the package that installs a release's kernel
// headers on the distribution.
func HeadersPackage(distro, release string) string {
	switch distro {
	case "debian", "ubuntu", "minikube":
		return "linux-headers-" + release
	case "rhel", "centos", "fedora", "amzn", "ol", "rocky", "almalinux", "alinux":
		return "kernel-devel-" + release
	case "sles", "opensuse-leap", "opensuse-tumbleweed", "opensuse":
		return "kernel-default-devel"
	case "arch":
		return "linux-headers"
	}
	return "the kernel headers package for " + release + " (linux-headers-" + release + " or kernel-devel-" + release + ")"
}

// BuildPlan says how a driver would be built.
type BuildPlan struct {
	// Method is "dkms" or "make" (kmod) or "make-bpf" (ebpf).
	Method    string `json:"method"`
	SourceDir string `json:"sourceDir"`
	KernelDir string `json:"kernelDir"`
	Log       string `json:"log"`
}

// buildRoots are the roots sources and headers are looked up under: the
// host root, then (when that is not /) this machine's own root, where
// falcoctl looks and where the driver-loader image links the host's
// /usr/src.
func buildRoots(hostRoot string) []string {
	if r := rootName(hostRoot); r != "/" {
		return []string{r, "/"}
	}
	return []string{"/"}
}

// planBuild finds the sources and the kernel headers.
func (in *Installer) planBuild(req Request, res *Result) (*BuildPlan, error) {
	bo := req.Build
	p := &BuildPlan{}
	var looked []string
	for _, root := range buildRoots(bo.HostRoot) {
		looked = append(looked, SourceDir(root, req.Name, req.Version))
		src, err := hostPath(root, filepath.Join("usr", "src", req.Name+"-"+req.Version))
		if err != nil {
			continue
		}
		if fi, err := os.Stat(src); err == nil && fi.IsDir() {
			p.SourceDir = src
			break
		}
	}
	if p.SourceDir == "" {
		return nil, fmt.Errorf("%w for %s %s: no %s (Falco's driver package installs them)", ErrNoSource, req.Name, req.Version, strings.Join(looked, " or "))
	}
	switch {
	case req.Type == EBPF:
		p.Method = "make-bpf"
		if fi, err := os.Stat(filepath.Join(p.SourceDir, "bpf")); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("%w for the eBPF probe: %s has no bpf directory", ErrNoSource, p.SourceDir)
		}
	case !bo.NoDKMS && in.system().HasCommand("dkms") && fileExists(filepath.Join(p.SourceDir, "dkms.conf")):
		p.Method = "dkms"
	default:
		p.Method = "make"
	}
	rel := req.Target.KernelRelease
	looked = nil
	if bo.KernelDir != "" {
		looked = []string{bo.KernelDir}
		if fileExists(filepath.Join(bo.KernelDir, "Makefile")) {
			p.KernelDir = bo.KernelDir
		}
	} else {
	roots:
		for _, root := range buildRoots(bo.HostRoot) {
			for _, c := range KernelDirCandidates(root, rel) {
				looked = append(looked, c)
				inRoot, _ := filepath.Rel(root, c)
				real, err := hostPath(root, inRoot)
				if err == nil && fileExists(filepath.Join(real, "Makefile")) {
					p.KernelDir = real
					break roots
				}
			}
		}
	}
	if p.KernelDir == "" {
		return nil, fmt.Errorf("%w for kernel %s: none of %s has a Makefile; install %s",
			ErrNoHeaders, rel, strings.Join(looked, ", "), HeadersPackage(req.Target.Distro, rel))
	}
	logDir := bo.LogDir
	if logDir == "" {
		logDir = filepath.Join(req.StateDir, "driver-build")
	}
	p.Log = filepath.Join(logDir, req.Version, res.FileName+".log")
	return p, nil
}

// build compiles the driver as plan says and puts it in the cache,
// atomically. Nothing is left in the cache when it fails.
func (in *Installer) build(ctx context.Context, req Request, plan *BuildPlan, res *Result) error {
	if err := os.MkdirAll(filepath.Dir(plan.Log), 0o755); err != nil {
		return fmt.Errorf("creating the build log directory: %w", err)
	}
	logf, err := os.Create(plan.Log)
	if err != nil {
		return fmt.Errorf("creating the build log: %w", err)
	}
	defer logf.Close()
	work, err := os.MkdirTemp("", "ferry-driver-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	b := &builder{in: in, req: req, plan: plan, log: logf, work: work}
	in.progress(Event{Step: "build", Path: plan.SourceDir})
	built, runErr := b.run(ctx)
	if runErr == nil {
		runErr = checkBuilt(req, built)
	}
	if runErr != nil {
		fmt.Fprintf(logf, "\n*** %v\n", runErr)
		_ = logf.Sync()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &BuildError{What: res.What(), Log: plan.Log, Tail: tailLines(plan.Log, buildLogTail), Err: runErr}
	}
	fmt.Fprintf(logf, "\n*** built %s\n", built)
	if err := copyFileAtomic(built, res.CachePath, 0o644); err != nil {
		return fmt.Errorf("caching the built driver: %w", err)
	}
	sum, _, err := fileSHA256(res.CachePath)
	if err != nil {
		return err
	}
	res.SHA256, res.Built, res.Build = sum, true, plan
	in.progress(Event{Step: "built", Path: res.CachePath})
	return nil
}

type builder struct {
	in   *Installer
	req  Request
	plan *BuildPlan
	log  io.Writer
	work string
}

// run tries the default compiler, then the others installed beside it (as
// driverkit does: every gcc* next to gcc that answers -print-search-dirs),
// and returns the path of the built file.
func (b *builder) run(ctx context.Context) (string, error) {
	if b.plan.Method == "make-bpf" {
		return b.bpf(ctx)
	}
	for _, tool := range []string{"make", "gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", fmt.Errorf("building the kernel module needs %s in PATH (install make and gcc)", tool)
		}
	}
	if b.plan.Method == "make" {
		if err := copyTree(b.plan.SourceDir, filepath.Join(b.work, "src")); err != nil {
			return "", fmt.Errorf("copying the sources: %w", err)
		}
	}
	var errs []error
	for _, cc := range append([]string{""}, compilers(ctx)...) {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		var out string
		var err error
		if b.plan.Method == "dkms" {
			out, err = b.dkms(ctx, cc)
		} else {
			out, err = b.make(ctx, cc)
		}
		if err == nil {
			return out, nil
		}
		name := cc
		if name == "" {
			name = "the default compiler"
		}
		errs = append(errs, fmt.Errorf("with %s: %w", name, err))
	}
	return "", errors.Join(errs...)
}

// compilers lists the other gcc compilers installed beside gcc.
func compilers(ctx context.Context) []string {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return nil
	}
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(gcc), "gcc*"))
	var out []string
	for _, m := range matches {
		if m == gcc {
			continue
		}
		o, err := exec.CommandContext(ctx, m, "-print-search-dirs").CombinedOutput()
		if err == nil && bytes.Contains(o, []byte("install:")) {
			out = append(out, m)
		}
	}
	return out
}

// command runs args with the log as its output, in dir, with extra
// environment; cc, if set, is the compiler make uses (through a make
// wrapper first in PATH, so that it reaches DKMS's make too).
func (b *builder) command(ctx context.Context, dir, cc string, env []string, args ...string) error {
	timeout := b.req.Build.Timeout
	if timeout <= 0 {
		timeout = DefaultBuildTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	path := os.Getenv("PATH")
	if cc != "" {
		realMake, err := exec.LookPath("make")
		if err != nil {
			return err
		}
		wrap := filepath.Join(b.work, "cc-"+filepath.Base(cc))
		if err := os.MkdirAll(wrap, 0o755); err != nil {
			return err
		}
		script := "#!/bin/sh\nexec " + shQuote(realMake) + " CC=" + shQuote(cc) + " \"$@\"\n"
		if err := os.WriteFile(filepath.Join(wrap, "make"), []byte(script), 0o755); err != nil {
			return err
		}
		path = wrap + string(os.PathListSeparator) + path
	}
	fmt.Fprintf(b.log, "\n*** %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "PATH="+path), env...)
	cmd.Stdout, cmd.Stderr = b.log, b.log
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("%s: timed out after %s", args[0], timeout)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", strings.Join(args[:min(len(args), 3)], " "), err)
	}
	return nil
}

func (b *builder) dkmsTree() string {
	if b.req.Build.DKMSTree != "" {
		return b.req.Build.DKMSTree
	}
	return "/var/lib/dkms"
}

// dkms runs dkms install and takes the module from DKMS's tree.
func (b *builder) dkms(ctx context.Context, cc string) (string, error) {
	req := b.req
	args := []string{"dkms", "install", "-m", req.Name, "-v", req.Version, "-k", req.Target.KernelRelease,
		"--kernelsourcedir", b.plan.KernelDir}
	if src := filepath.Dir(b.plan.SourceDir); filepath.Clean(src) != "/usr/src" {
		args = append(args, "--sourcetree", src)
	}
	if req.Build.DKMSTree != "" {
		args = append(args, "--dkmstree", req.Build.DKMSTree)
	}
	base := filepath.Join(b.dkmsTree(), req.Name, req.Version)
	_, err := os.Lstat(base)
	addedBefore := err == nil
	runErr := b.command(ctx, "/", cc, []string{"KERNELDIR=" + b.plan.KernelDir}, args...)
	if runErr != nil {
		if data, err := os.ReadFile(filepath.Join(base, "build", "make.log")); err == nil {
			fmt.Fprintf(b.log, "\n*** %s:\n%s", filepath.Join(base, "build", "make.log"), data)
		}
		if !addedBefore {
			b.dkmsRemove(ctx, base)
		}
		return "", runErr
	}
	dir := filepath.Join(base, req.Target.KernelRelease, req.Target.Arch, "module")
	for _, mod := range []string{req.Name, ModuleName(req.Name)} {
		matches, _ := filepath.Glob(filepath.Join(dir, mod+".ko*"))
		for _, m := range matches {
			return b.decompress(ctx, m)
		}
	}
	return "", fmt.Errorf("dkms install succeeded but %s holds no %s.ko", dir, req.Name)
}

// dkmsRemove takes out of DKMS's tree the module a failed dkms install
// added (dkms install adds before it builds, and leaves the module added
// when the build fails), so that a retry, or dkms autoinstall at the next
// boot, starts clean: dkms remove --all, as falcoctl's cleanup removes the
// versions it finds. A module added before, by someone else, is left.
func (b *builder) dkmsRemove(ctx context.Context, base string) {
	req := b.req
	args := []string{"dkms", "remove", "-m", req.Name, "-v", req.Version, "--all"}
	if req.Build.DKMSTree != "" {
		args = append(args, "--dkmstree", req.Build.DKMSTree)
	}
	// Also after an interrupt: the build is over either way.
	ctx = context.WithoutCancel(ctx)
	if err := b.command(ctx, "/", "", nil, args...); err != nil {
		fmt.Fprintf(b.log, "*** %v\n", err)
	}
	if _, err := os.Lstat(base); err == nil {
		// DKMS refused (a module added but never built, in some
		// versions): remove what it added, as dkms remove would.
		fmt.Fprintf(b.log, "\n*** removing %s\n", base)
		if err := os.RemoveAll(base); err != nil {
			fmt.Fprintf(b.log, "*** %v\n", err)
		}
		_ = os.Remove(filepath.Dir(base)) // only if empty
	}
}

// decompress returns a plain .ko for a module DKMS may have compressed.
func (b *builder) decompress(ctx context.Context, path string) (string, error) {
	var tool string
	switch filepath.Ext(path) {
	case ".ko":
		return path, nil
	case ".gz":
		tool = "gzip"
	case ".xz":
		tool = "xz"
	case ".zst":
		tool = "zstd"
	default:
		return "", fmt.Errorf("%s: unknown module compression", path)
	}
	out := filepath.Join(b.work, "module.ko")
	f, err := os.Create(out)
	if err != nil {
		return "", err
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, tool, "-dc", path)
	cmd.Stdout, cmd.Stderr = f, b.log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s -dc %s: %w", tool, path, err)
	}
	return out, f.Close()
}

// make builds the module out of a copy of the sources with kbuild.
func (b *builder) make(ctx context.Context, cc string) (string, error) {
	src := filepath.Join(b.work, "src")
	args := []string{"make", "-C", b.plan.KernelDir, "M=" + src, "modules"}
	if cc != "" {
		args = append(args, "CC="+cc)
	}
	if err := b.command(ctx, src, "", []string{"KERNELDIR=" + b.plan.KernelDir}, args...); err != nil {
		return "", err
	}
	for _, mod := range []string{b.req.Name, ModuleName(b.req.Name)} {
		if p := filepath.Join(src, mod+".ko"); fileExists(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("make succeeded but built no %s.ko", b.req.Name)
}

// bpf builds the legacy eBPF probe: make -C <sources>/bpf with KERNELDIR.
func (b *builder) bpf(ctx context.Context) (string, error) {
	for _, tool := range []string{"clang", "llc"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", fmt.Errorf("building the eBPF probe needs %s in PATH (install clang and llvm)", tool)
		}
	}
	src := filepath.Join(b.work, "src")
	if err := copyTree(b.plan.SourceDir, src); err != nil {
		return "", fmt.Errorf("copying the sources: %w", err)
	}
	dir := filepath.Join(src, "bpf")
	if err := b.command(ctx, dir, "", []string{"KERNELDIR=" + b.plan.KernelDir},
		"make", "-C", dir, "KERNELDIR="+b.plan.KernelDir); err != nil {
		return "", err
	}
	p := filepath.Join(dir, "probe.o")
	if !fileExists(p) {
		return "", errors.New("make succeeded but built no bpf/probe.o")
	}
	return p, nil
}

// checkBuilt checks the file is what Falco loads: a kernel module whose
// vermagic names the target's kernel release, or a BPF ELF object.
func checkBuilt(req Request, path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s is not an ELF object: %w", path, err)
	}
	defer f.Close()
	if req.Type == EBPF {
		if f.Machine != elf.EM_BPF {
			return fmt.Errorf("%s is a %s object, not BPF", path, f.Machine)
		}
		return nil
	}
	vermagic, err := ModuleVermagic(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if rel, _, _ := strings.Cut(vermagic, " "); rel != req.Target.KernelRelease {
		return fmt.Errorf("%s is built for kernel %q (vermagic %q), not %s", path, rel, vermagic, req.Target.KernelRelease)
	}
	return nil
}

// ModuleVermagic reads a kernel module's vermagic from its .modinfo
// section ("6.1.0-10-amd64 SMP preempt mod_unload modversions").
func ModuleVermagic(f *elf.File) (string, error) {
	sec := f.Section(".modinfo")
	if sec == nil {
		return "", errors.New("no .modinfo section: not a kernel module")
	}
	data, err := sec.Data()
	if err != nil {
		return "", err
	}
	for _, kv := range bytes.Split(data, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("vermagic=")); ok {
			return string(v), nil
		}
	}
	return "", errors.New("no vermagic in .modinfo")
}

// tailLines returns the last n lines of a file.
func tailLines(path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = slices.Delete(lines, 0, 1)
		}
	}
	return lines
}

// copyTree copies a directory tree (regular files, directories and
// symbolic links), following a link at the top.
func copyTree(src, dst string) error {
	src, err := filepath.EvalSymlinks(src)
	if err != nil {
		return err
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to) //nolint:gosec // G122: a link is copied as a link, never followed, into ferry's private build tree
		case d.Type().IsRegular():
			in, err := os.Open(p) //nolint:gosec // G122: the host's own source tree, read into ferry's private build tree
			if err != nil {
				return err
			}
			defer in.Close()
			fi, err := in.Stat()
			if err != nil {
				return err
			}
			out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm()|0o200)
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, in); err != nil {
				out.Close()
				return err
			}
			return out.Close()
		}
		return nil
	})
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// shQuote quotes s for a POSIX shell.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
