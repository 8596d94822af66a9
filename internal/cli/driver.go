package cli

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	ferryhttp "github.com/ferryhq/ferry/internal/http"
	"github.com/ferryhq/ferry/pkg/driver"
	"github.com/ferryhq/ferry/pkg/events"
)

const driverNotFoundHint = "no prebuilt driver exists for this kernel in these repositories: " +
	"build it locally with the kernel headers installed (driverkit, or dkms with Falco's driver sources), " +
	"add a repository that has it with --repo, or use --type modern_ebpf (kernel >= 5.8), which needs no download"

// driverOptions is the flag group every driver command shares; the names are
// falcoctl's.
type driverOptions struct {
	Types         []string
	Version       string
	Repos         []string
	Name          string
	HostRoot      string
	KernelRelease string
	KernelVersion string
}

func (o *driverOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringSliceVar(&o.Types, "type", []string{string(driver.ModernEBPF), string(driver.Kmod)},
		"driver types in order of preference: kmod, ebpf, modern_ebpf, or auto (modern_ebpf,kmod); the first the kernel supports is used")
	fs.StringVar(&o.Version, "version", "", "driver version, e.g. 8.0.0+driver (default: the highest /usr/src/<name>-<version> under / or --host-root)")
	fs.StringSliceVar(&o.Repos, "repo", []string{driver.DefaultRepo}, "driver repository URL, tried in order (repeatable)")
	fs.StringVar(&o.Name, "name", "falco", "driver name")
	fs.StringVar(&o.HostRoot, "host-root", "/", "root of the host file system (os-release is read and drivers are installed under it)")
	fs.StringVar(&o.KernelRelease, "kernelrelease", "", "kernel release as uname -r prints it (default: the running kernel's), e.g. 6.1.0-10-cloud-amd64")
	fs.StringVar(&o.KernelVersion, "kernelversion", "", "kernel version as uname -v prints it (default: the running kernel's), e.g. '#1 SMP PREEMPT_DYNAMIC Debian 6.1.38-2 (2023-07-27)'")
}

func (o *driverOptions) Validate() error {
	if !filepath.IsAbs(o.HostRoot) {
		return cmdutil.Usage(fmt.Errorf("--host-root must be an absolute path, not %q", o.HostRoot))
	}
	if o.Name == "" || strings.ContainsAny(o.Name, `/\ `) {
		return cmdutil.Usage(fmt.Errorf("--name %q is not a driver name", o.Name))
	}
	if strings.ContainsAny(o.Version, `/\`) {
		return cmdutil.Usage(fmt.Errorf("--version %q is not a driver version", o.Version))
	}
	if _, err := driver.ParseTypes(o.Types); err != nil {
		return cmdutil.Usage(fmt.Errorf("--type: %w", err))
	}
	if len(o.Repos) == 0 {
		return cmdutil.Usage(errors.New("--repo: at least one driver repository is needed"))
	}
	for _, r := range o.Repos {
		u, err := url.Parse(r)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return cmdutil.Usage(fmt.Errorf("--repo %q is not an http(s) URL", r))
		}
	}
	return nil
}

// detect reads the kernel (uname, unless overridden) and the host's
// distribution; warnings are logged.
func (o *driverOptions) detect(f *cmdutil.Factory) (driver.Target, error) {
	k, err := driver.HostKernel(o.KernelRelease, o.KernelVersion)
	if err != nil {
		return driver.Target{}, err
	}
	t, err := driver.Detect(o.HostRoot, k)
	if err != nil {
		return t, fmt.Errorf("detecting the host under %s: %w", o.HostRoot, err)
	}
	log := f.Logger()
	for _, w := range t.Warnings {
		log.Warn(w)
	}
	return t, nil
}

// chooseType picks the first requested type the target's kernel supports.
func (o *driverOptions) chooseType(t driver.Target) (driver.Type, error) {
	types, err := driver.ParseTypes(o.Types)
	if err != nil {
		return "", cmdutil.Usage(err)
	}
	return driver.ChooseType(types, t)
}

// driverVersion is --version, or the highest version whose sources are
// installed under / or the host root.
func (o *driverOptions) driverVersion() string {
	if o.Version != "" {
		return o.Version
	}
	return driver.DetectVersion(o.Name, "/", o.HostRoot)
}

// falcoDir is where Falco, running as root on the host, looks for drivers:
// <host root>/root/.falco (falco-driver-loader's and falcoctl's ~/.falco).
func (o *driverOptions) falcoDir() string { return filepath.Join(o.HostRoot, "root", ".falco") }

func newCmdDriver(f *cmdutil.Factory) *cobra.Command {
	opts := &driverOptions{}
	cmd := &cobra.Command{
		Use:   "driver",
		Short: "Install the kernel driver Falco needs",
		Long: `Install the kernel driver Falco needs: the kernel module (kmod) or the legacy
eBPF probe (ebpf), prebuilt by the Falco project for each distribution and
kernel; the modern eBPF probe (modern_ebpf) is built into Falco and needs none.

The distribution is read from <host-root>/etc/os-release (or
/usr/lib/os-release, /etc/VERSION, /etc/debian_version, /etc/centos-release,
/etc/redhat-release) and the kernel from uname, unless --kernelrelease and
--kernelversion say otherwise; per-distribution fix-ups (falcoctl's) give the
file name. See 'ferry driver printenv'.`,
	}
	opts.AddFlags(cmd.PersistentFlags())
	cmd.AddCommand(
		newCmdDriverPrintenv(f, opts),
		newCmdDriverInstall(f, opts),
		newCmdDriverCleanup(f, opts),
		newCmdDriverConfig(f, opts),
	)
	return cmd
}

// driverEnvView is the JSON shape of `driver printenv`.
type driverEnvView struct {
	Driver             string   `json:"driver"`
	DriversRepo        []string `json:"driversRepo"`
	DriverVersion      string   `json:"driverVersion"`
	DriverName         string   `json:"driverName"`
	HostRoot           string   `json:"hostRoot"`
	Distro             string   `json:"distro"`
	TargetID           string   `json:"targetId"`
	Arch               string   `json:"arch"`
	KernelRelease      string   `json:"kernelRelease"`
	KernelVersion      string   `json:"kernelVersion"`
	FixedKernelRelease string   `json:"fixedKernelRelease"`
	FixedKernelVersion string   `json:"fixedKernelVersion"`
	BuildID            string   `json:"buildId,omitempty"`
	FileName           string   `json:"fileName,omitempty"`
	URLs               []string `json:"urls,omitempty"`
	Warnings           []string `json:"warnings,omitempty"`
}

func newCmdDriverPrintenv(f *cmdutil.Factory, opts *driverOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "printenv",
		Short: "Print the driver variables falcoctl and falco-driver-loader print",
		Long: `Print, one KEY="VALUE" a line (shell-sourceable), the variables falcoctl's
'driver printenv' prints: DRIVER, DRIVERS_REPO, DRIVER_VERSION, DRIVER_NAME,
TARGET_ID, ARCH, KERNEL_RELEASE, KERNEL_VERSION, FIXED_KERNEL_RELEASE and
FIXED_KERNEL_VERSION. The FIXED_ values and TARGET_ID name the file:
<repo>/<driver version>/<arch>/<name>_<target id>_<fixed release>_<fixed version>.ko`,
		Example: `  ferry driver printenv
  ferry driver printenv --host-root /host --version 8.0.0+driver -o json
  ferry driver printenv --kernelrelease 6.1.0-10-cloud-amd64 --kernelversion '#1 SMP PREEMPT_DYNAMIC Debian 6.1.38-2 (2023-07-27)'`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return driverPrintenvRun(f, opts)
		},
	}
}

func driverPrintenvRun(f *cmdutil.Factory, opts *driverOptions) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	t, err := opts.detect(f)
	if err != nil {
		return err
	}
	v := driverEnvView{
		DriversRepo: opts.Repos, DriverVersion: opts.driverVersion(), DriverName: opts.Name, HostRoot: opts.HostRoot,
		Distro: t.Distro, TargetID: t.ID, Arch: t.Arch, KernelRelease: t.KernelRelease, KernelVersion: t.KernelVersion,
		FixedKernelRelease: t.FixedKernelRelease, FixedKernelVersion: t.FixedKernelVersion, BuildID: t.BuildID, Warnings: t.Warnings,
	}
	log := f.Logger()
	if typ, err := opts.chooseType(t); err != nil {
		log.Warn(err.Error())
	} else {
		v.Driver = string(typ)
		if typ.NeedsFile() {
			v.FileName = driver.FileName(opts.Name, typ, t)
			for _, r := range opts.Repos {
				v.URLs = append(v.URLs, driver.URL(r, v.DriverVersion, t.Arch, v.FileName))
			}
		}
	}
	if v.DriverVersion == "" {
		log.Warn("no driver version: pass --version (no /usr/src/" + opts.Name + "-<version> to read it from)")
	}
	if f.Global.JSON() {
		return f.PrintJSON(v)
	}
	w := f.IO.Out
	for _, kv := range [][2]string{
		{"DRIVER", v.Driver},
		{"DRIVERS_REPO", strings.Join(v.DriversRepo, ", ")},
		{"DRIVER_VERSION", v.DriverVersion},
		{"DRIVER_NAME", v.DriverName},
		{"TARGET_ID", v.TargetID},
		{"ARCH", v.Arch},
		{"KERNEL_RELEASE", v.KernelRelease},
		{"KERNEL_VERSION", v.KernelVersion},
		{"FIXED_KERNEL_RELEASE", v.FixedKernelRelease},
		{"FIXED_KERNEL_VERSION", v.FixedKernelVersion},
	} {
		if _, err := fmt.Fprintf(w, "%s=%s\n", kv[0], shellQuote(kv[1])); err != nil {
			return err
		}
	}
	return nil
}

// shellQuote double-quotes s as falcoctl does, escaping what a POSIX shell
// would expand inside double quotes, so that the output can be sourced.
func shellQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if strings.ContainsRune("\"\\$`", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

type driverInstallOptions struct {
	*driverOptions
	eventsOptions
	CacheDir string
	StateDir string
	SHA256   string
	Load     bool
	DryRun   bool
	MaxSize  int64
}

func newCmdDriverInstall(f *cmdutil.Factory, dopts *driverOptions) *cobra.Command {
	opts := &driverInstallOptions{driverOptions: dopts}
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Download and install the prebuilt driver for this kernel",
		Long: `Download and install the prebuilt driver for this kernel.

The file <repo>/<url-escaped driver version>/<arch>/<name>_<target id>_<kernel
release>_<kernel version>.ko (.o for ebpf) is fetched from the first --repo
that has it, verified when a digest is known (--sha256, or a sha256sum file
at the same URL + ".sha256" when the repository serves one), and cached as
Falco does under --cache-dir: <cache>/<driver version>/<arch>/<file>. A
cached file is used without any request.

It is then installed atomically where Falco looks for it when it runs as
root on the host, <host-root>/root/.falco/<driver version>/<arch>/<file>;
for ebpf, <host-root>/root/.falco/<name>-bpf.o links to it (Falco's default
engine.ebpf.probe). What is installed is recorded under --state-dir for
'ferry driver cleanup'. With --load, a kernel module is loaded: rmmod of the
loaded one, then insmod (needs root). modern_ebpf needs no download.`,
		Example: `  ferry driver install --type kmod --version 8.0.0+driver --load
  ferry driver install --host-root /host --repo https://mirror.internal/driver --repo https://download.falco.org/driver
  ferry driver install --type kmod --load --dry-run`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return driverInstallRun(cmd, f, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.CacheDir, "cache-dir", "", "download cache, laid out as Falco's (default $HOME/.falco)")
	fl.StringVar(&opts.StateDir, "state-dir", "/var/lib/ferry", "directory for ferry's install state")
	fl.StringVar(&opts.SHA256, "sha256", "", "expected sha256 of the driver file (hex); a mismatch fails with exit code 5")
	fl.BoolVar(&opts.Load, "load", false, "load the kernel module once installed (rmmod, insmod; needs root)")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print the URLs, paths and commands without downloading, writing or running anything")
	fl.Int64Var(&opts.MaxSize, "max-size", driver.DefaultMaxBytes, "refuse driver files larger than this many bytes")
	opts.eventsOptions.AddFlags(cmd)
	return cmd
}

func driverInstallRun(cmd *cobra.Command, f *cmdutil.Factory, opts *driverInstallOptions) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	if opts.SHA256 != "" {
		if _, err := ferryhttp.NormalizeSHA256(opts.SHA256); err != nil {
			return cmdutil.Usage(fmt.Errorf("--sha256: %w", err))
		}
	}
	if opts.MaxSize < 1 {
		return cmdutil.Usage(errors.New("--max-size must be positive"))
	}
	if strings.TrimSpace(opts.StateDir) == "" {
		return cmdutil.Usage(errors.New("--state-dir must not be empty"))
	}
	cacheDir := opts.CacheDir
	if cacheDir == "" {
		home := f.Getenv("HOME")
		if home == "" {
			h, err := os.UserHomeDir()
			if err != nil {
				return cmdutil.Usage(errors.New("--cache-dir: no home directory; pass --cache-dir"))
			}
			home = h
		}
		cacheDir = filepath.Join(home, ".falco")
	}
	t, err := opts.detect(f)
	if err != nil {
		return err
	}
	typ, err := opts.chooseType(t)
	if err != nil {
		return err
	}
	version := opts.driverVersion()
	if version == "" && typ.NeedsFile() {
		return cmdutil.Usage(fmt.Errorf("--version is required: no %s to read the driver version from",
			filepath.Join(opts.HostRoot, "usr", "src", opts.Name+"-<version>")))
	}
	hc, err := f.HTTPClient()
	if err != nil {
		return err
	}
	log := f.Logger()
	if opts.Load && typ == driver.Kmod && opts.KernelRelease != "" {
		if running, err := driver.HostKernel("", ""); err == nil && running.Release != opts.KernelRelease {
			log.Warn("--load: the module is for kernel "+opts.KernelRelease+" but "+running.Release+" is running; insmod will likely refuse it",
				"kernelrelease", opts.KernelRelease, "running", running.Release)
		}
	}
	in := &driver.Installer{HTTP: hc, Progress: func(e driver.Event) {
		switch e.Step {
		case "miss":
			log.Info("driver not served", "url", e.URL, "reason", e.Err)
		case "try":
			log.Info("trying", "url", e.URL)
		default:
			log.Info(e.Step, "url", e.URL, "path", e.Path)
		}
	}}
	em, err := opts.eventsOptions.Build(f, opts.StateDir)
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := in.Install(cmd.Context(), driver.Request{
		Name: opts.Name, Version: version, Type: typ, Target: t, Repos: opts.Repos, SHA256: opts.SHA256,
		CacheDir: cacheDir, InstallDir: opts.falcoDir(), StateDir: opts.StateDir,
		Load: opts.Load, DryRun: opts.DryRun, MaxBytes: opts.MaxSize,
	})
	// A file fetched from a repository is a download, even when loading it
	// failed afterwards.
	if res != nil && em.Enabled() && !res.Cached && res.URL != "" && res.SHA256 != "" && !opts.DryRun {
		a := events.Artifact{Name: opts.Name, Version: version, Digest: "sha256:" + res.SHA256, URL: res.URL, ServedBy: res.URL,
			Path: res.Path, Duration: time.Since(start)}
		if fi, serr := os.Stat(res.CachePath); serr == nil {
			a.Bytes = fi.Size()
		}
		w, eerr := em.Downloaded(cmd.Context(), a)
		printEventWarnings(f, w)
		if err == nil {
			err = eerr
		}
	}
	if err != nil {
		switch {
		case errors.Is(err, driver.ErrNotFound), errors.Is(err, driver.ErrUnsupported):
			return &cmdutil.CodedError{Code: cmdutil.ExitNotFound, Err: err, Hint: driverNotFoundHint}
		case errors.Is(err, driver.ErrLoad):
			return &cmdutil.CodedError{Code: cmdutil.ExitError, Err: err,
				Hint: "loading a kernel module needs root (CAP_SYS_MODULE), and with Secure Boot a signed module; the driver is installed, run without --load to only install it"}
		}
		return err
	}
	if f.Global.JSON() {
		return f.PrintJSON(res)
	}
	printDriverResult(f.IO.Out, res)
	return nil
}

func printDriverResult(w io.Writer, r *driver.Result) {
	switch r.Status {
	case driver.StatusNotNeeded:
		fmt.Fprintf(w, "Nothing to install for %s: %s\n", r.Type, r.Note)
		return
	case driver.StatusUpToDate:
		fmt.Fprintf(w, "%s is up to date\n", upperFirst(r.What()))
	case driver.StatusWouldInstall:
		fmt.Fprintf(w, "Would install the %s\n", r.What())
	default:
		fmt.Fprintf(w, "Installed the %s\n", r.What())
	}
	switch {
	case r.Status == driver.StatusWouldInstall && r.Cached:
		fmt.Fprintf(w, "  from    cache %s\n", r.CachePath)
	case r.Status == driver.StatusWouldInstall:
		for _, u := range r.URLs {
			fmt.Fprintf(w, "  try     %s\n", u)
		}
	case r.Cached:
		fmt.Fprintf(w, "  from    cache %s\n", r.CachePath)
	default:
		fmt.Fprintf(w, "  from    %s\n", r.URL)
		for _, a := range r.Tried {
			fmt.Fprintf(w, "  skipped %s (%s)\n", a.URL, a.Error)
		}
	}
	if r.SHA256 != "" {
		switch r.Verified {
		case "":
			fmt.Fprintf(w, "  sha256  %s (not verified: no --sha256 given and the repository serves no .sha256)\n", r.SHA256)
		default:
			fmt.Fprintf(w, "  sha256  %s (verified: %s)\n", r.SHA256, r.Verified)
		}
	}
	if !r.Cached || r.Status == driver.StatusWouldInstall {
		fmt.Fprintf(w, "  cache   %s\n", r.CachePath)
	}
	fmt.Fprintf(w, "  file    %s\n", r.Path)
	if r.Link != "" {
		fmt.Fprintf(w, "  link    %s\n", r.Link)
	}
	for _, c := range r.Commands {
		switch {
		case r.Status == driver.StatusWouldInstall && c.When != "":
			fmt.Fprintf(w, "  would run  %s   (%s)\n", c, c.When)
		case r.Status == driver.StatusWouldInstall:
			fmt.Fprintf(w, "  would run  %s\n", c)
		case c.Ran && c.Error != "":
			fmt.Fprintf(w, "  ran     %s (failed, ignored: %s)\n", c, c.Error)
		case c.Ran:
			fmt.Fprintf(w, "  ran     %s\n", c)
		}
	}
	if r.Note != "" && r.Status != driver.StatusNotNeeded {
		fmt.Fprintf(w, "  note    %s\n", r.Note)
	}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

type driverCleanupOptions struct {
	*driverOptions
	StateDir string
	Unload   bool
	DryRun   bool
}

func newCmdDriverCleanup(f *cmdutil.Factory, dopts *driverOptions) *cobra.Command {
	opts := &driverCleanupOptions{driverOptions: dopts}
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Remove what 'ferry driver install' put in place",
		Long: `Remove the driver files and links 'ferry driver install' put in place, as
its state file under --state-dir records them, and the directories that
leaves empty. The download cache is kept. With --unload, the kernel module
is unloaded (rmmod) if it is loaded.`,
		Example: `  ferry driver cleanup
  ferry driver cleanup --unload --dry-run`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.Validate(); err != nil {
				return err
			}
			if strings.TrimSpace(opts.StateDir) == "" {
				return cmdutil.Usage(errors.New("--state-dir must not be empty"))
			}
			in := &driver.Installer{}
			res, err := in.Cleanup(cmd.Context(), driver.CleanupRequest{StateDir: opts.StateDir, Name: opts.Name, Unload: opts.Unload, DryRun: opts.DryRun})
			if err != nil {
				if errors.Is(err, driver.ErrLoad) {
					return &cmdutil.CodedError{Code: cmdutil.ExitError, Err: err, Hint: "unloading a kernel module needs root, and no process (Falco) may be using it"}
				}
				return err
			}
			if f.Global.JSON() {
				return f.PrintJSON(res)
			}
			w := f.IO.Out
			verb := "Removed"
			if opts.DryRun {
				verb = "Would remove"
			}
			for _, p := range res.Removed {
				fmt.Fprintf(w, "%s %s\n", verb, p)
			}
			for _, p := range res.Missing {
				fmt.Fprintf(w, "Already gone %s\n", p)
			}
			for _, c := range res.Commands {
				switch {
				case opts.DryRun:
					fmt.Fprintf(w, "Would run %s   (%s)\n", c, c.When)
				case c.Ran:
					fmt.Fprintf(w, "Ran %s\n", c)
				}
			}
			if res.Status == "nothing" {
				fmt.Fprintln(w, "Nothing to clean up")
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.StateDir, "state-dir", "/var/lib/ferry", "directory for ferry's install state")
	fl.BoolVar(&opts.Unload, "unload", false, "also unload the kernel module (rmmod), if loaded")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print what would be removed and run, and change nothing")
	return cmd
}

type driverConfigOptions struct {
	*driverOptions
	DryRun bool
}

func newCmdDriverConfig(f *cmdutil.Factory, dopts *driverOptions) *cobra.Command {
	opts := &driverConfigOptions{driverOptions: dopts}
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Tell Falco which driver to use",
		Long: `Tell Falco which driver to use: write <host-root>/etc/falco/config.d/engine-kind-ferry.yaml
with "engine: {kind: <type>}" (atomically). Falco (0.38+) reads the files of
config.d over falco.yaml. With one --type, that type is written; with a list
(or auto), the first the kernel supports.`,
		Example: `  ferry driver config --type kmod
  ferry driver config --type auto --host-root /host`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.Validate(); err != nil {
				return err
			}
			types, _ := driver.ParseTypes(opts.Types)
			typ := types[0]
			if len(types) > 1 {
				t, err := opts.detect(f)
				if err != nil {
					return err
				}
				if typ, err = driver.ChooseType(types, t); err != nil {
					return &cmdutil.CodedError{Code: cmdutil.ExitNotFound, Err: err}
				}
			}
			res, err := driver.WriteEngineConfig(opts.HostRoot, typ, opts.DryRun)
			if err != nil {
				return err
			}
			if f.Global.JSON() {
				return f.PrintJSON(res)
			}
			switch {
			case !res.Changed:
				fmt.Fprintf(f.IO.Out, "Falco is already configured for %s in %s\n", res.Kind, res.Path)
			case opts.DryRun:
				fmt.Fprintf(f.IO.Out, "Would configure Falco for %s in %s\n", res.Kind, res.Path)
			default:
				fmt.Fprintf(f.IO.Out, "Configured Falco for %s in %s\n", res.Kind, res.Path)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print what would be written and write nothing")
	return cmd
}
