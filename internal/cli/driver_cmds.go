package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/driver"
)

// driver printenv, cleanup and config; driver install is in driver.go.

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

// DriverPrintenvOptions are the dependencies and flag values of driver
// printenv; the driver flag group is its parent's.
type DriverPrintenvOptions struct {
	commandDeps
	*driverOptions
}

// NewCmdDriverPrintenv builds driver printenv over its parent's driver
// flag group. runF, when not nil, receives the parsed and validated
// options instead of driverPrintenvRun (tests use it).
func NewCmdDriverPrintenv(f *cmdutil.Factory, dopts *driverOptions, runF func(*DriverPrintenvOptions) error) *cobra.Command {
	opts := &DriverPrintenvOptions{commandDeps: newCommandDeps(f), driverOptions: dopts}
	return &cobra.Command{
		Use:   "printenv",
		Short: "Print the driver variables falcoctl and falco-driver-loader print",
		Long: `Print, one KEY="VALUE" a line, the variables falcoctl's 'driver printenv'
prints, in its order and quoting: DRIVER, DRIVERS_REPO, DRIVER_VERSION,
DRIVER_NAME, HOST_ROOT, TARGET_ID, ARCH, KERNEL_RELEASE, KERNEL_VERSION,
FIXED_KERNEL_RELEASE and FIXED_KERNEL_VERSION. The FIXED_ values and
TARGET_ID name the file:
<repo>/<driver version>/<arch>/<name>_<target id>_<fixed release>_<fixed version>.ko

Values are quoted as Go's %q quotes them (falcoctl's format), and "$" and
"` + "`" + `" are escaped too, so that the output can be sourced by a shell.
Without a driver version (--version, the config file, or a
/usr/src/<name>-<version> directory) it fails, as falcoctl does.`,
		Example: `  ferry driver printenv --version 8.0.0+driver
  ferry driver printenv --host-root /host --version 8.0.0+driver -o json
  ferry driver printenv --kernelrelease 6.1.0-10-cloud-amd64 --kernelversion '#1 SMP PREEMPT_DYNAMIC Debian 6.1.38-2 (2023-07-27)'`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.IO = f.IO
			if err := opts.resolve(cmd, f); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return driverPrintenvRun(cmd.Context(), opts)
		},
	}
}

func driverPrintenvRun(_ context.Context, opts *DriverPrintenvOptions) error {
	version := opts.driverVersion()
	if version == "" {
		return cmdutil.Usage(fmt.Errorf("--version is required: no %s to read the driver version from",
			filepath.Join("/usr/src", opts.Name+"-<version>")))
	}
	t, err := opts.detect(opts.Logger())
	if err != nil {
		return err
	}
	v := driverEnvView{
		DriversRepo: opts.Repos, DriverVersion: version, DriverName: opts.Name, HostRoot: opts.HostRoot,
		Distro: t.Distro, TargetID: t.ID, Arch: t.Arch, KernelRelease: t.KernelRelease, KernelVersion: t.KernelVersion,
		FixedKernelRelease: t.FixedKernelRelease, FixedKernelVersion: t.FixedKernelVersion, BuildID: t.BuildID, Warnings: t.Warnings,
	}
	typ, err := opts.chooseType(t)
	if err != nil {
		return err
	}
	v.Driver = string(typ)
	if typ.NeedsFile() {
		v.FileName = driver.FileName(opts.Name, typ, t)
		for _, r := range opts.Repos {
			v.URLs = append(v.URLs, driver.URL(r, v.DriverVersion, t.Arch, v.FileName))
		}
	}
	if opts.Global.JSON() {
		return printJSON(opts.IO.Out, v)
	}
	w := opts.IO.Out
	for _, kv := range [][2]string{
		{"DRIVER", v.Driver},
		{"DRIVERS_REPO", strings.Join(v.DriversRepo, ", ")},
		{"DRIVER_VERSION", v.DriverVersion},
		{"DRIVER_NAME", v.DriverName},
		{"HOST_ROOT", v.HostRoot},
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

// DriverCleanupOptions are the dependencies and flag values of driver
// cleanup; the driver flag group is its parent's.
type DriverCleanupOptions struct {
	commandDeps
	*driverOptions
	StateDir string
	Unload   bool
	DryRun   bool
}

// driverCleanupView is the JSON shape of `driver cleanup`.
type driverCleanupView struct {
	// Status is "cleaned", "would-clean" or "nothing".
	Status   string              `json:"status"`
	Removed  []string            `json:"removed"`
	Missing  []string            `json:"missing,omitempty"`
	Commands []driverCommandView `json:"commands,omitempty"`
}

// driverCommandView is a command a driver command ran or would run.
type driverCommandView struct {
	Args  []string `json:"args"`
	When  string   `json:"when,omitempty"`
	Ran   bool     `json:"ran"`
	Error string   `json:"error,omitempty"`
}

func newDriverCleanupView(r *driver.CleanupResult) driverCleanupView {
	v := driverCleanupView{Status: r.Status, Removed: r.Removed, Missing: r.Missing}
	for _, c := range r.Commands {
		v.Commands = append(v.Commands, driverCommandView{Args: c.Args, When: c.When, Ran: c.Ran, Error: c.Error})
	}
	return v
}

// NewCmdDriverCleanup builds driver cleanup over its parent's driver flag
// group. runF, when not nil, receives the parsed and validated options
// instead of driverCleanupRun (tests use it).
func NewCmdDriverCleanup(f *cmdutil.Factory, dopts *driverOptions, runF func(*DriverCleanupOptions) error) *cobra.Command {
	opts := &DriverCleanupOptions{commandDeps: newCommandDeps(f), driverOptions: dopts}
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Remove what 'ferry driver install' put in place",
		Long: `Remove the driver files and links 'ferry driver install' put in place, as
its state file under --state-dir records them, and the directories that
leaves empty, and runs 'dkms remove -m <name> -v <version> -k <release>' for
each module install built with DKMS. The download cache is kept. With
--unload, the kernel module is unloaded (rmmod) if it is loaded. (falcoctl's
cleanup also unloads, and removes every DKMS version of the module.)`,
		Example: `  ferry driver cleanup
  ferry driver cleanup --unload --dry-run`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.IO = f.IO
			if err := opts.resolve(cmd, f); err != nil {
				return err
			}
			if strings.TrimSpace(opts.StateDir) == "" {
				return cmdutil.Usage(errors.New("--state-dir must not be empty"))
			}
			if runF != nil {
				return runF(opts)
			}
			return driverCleanupRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.StateDir, "state-dir", "/var/lib/ferry", "directory for ferry's install state")
	fl.BoolVar(&opts.Unload, "unload", false, "also unload the kernel module (rmmod), if loaded")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print what would be removed and run, and change nothing")
	return cmd
}

func driverCleanupRun(ctx context.Context, opts *DriverCleanupOptions) error {
	in := &driver.Installer{}
	res, err := in.Cleanup(ctx, driver.CleanupRequest{StateDir: opts.StateDir, Name: opts.Name, Unload: opts.Unload, DryRun: opts.DryRun})
	if err != nil {
		if errors.Is(err, driver.ErrLoad) {
			return &cmdutil.CodedError{Code: cmdutil.ExitError, Err: err, Hint: "unloading a kernel module needs root, and no process (Falco) may be using it"}
		}
		return err
	}
	if opts.Global.JSON() {
		return printJSON(opts.IO.Out, newDriverCleanupView(res))
	}
	w := opts.IO.Out
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
}

// DriverConfigOptions are the dependencies and flag values of driver
// config; the driver flag group is its parent's.
type DriverConfigOptions struct {
	commandDeps
	*driverOptions
	ConfigPath     func() string
	DryRun         bool
	UpdateFalco    bool
	FalcoConfigDir string
	Kubeconfig     string
	Namespace      string
	ConfigMap      string
}

// NewCmdDriverConfig builds driver config over its parent's driver flag
// group. runF, when not nil, receives the parsed and validated options
// instead of driverConfigRun (tests use it).
func NewCmdDriverConfig(f *cmdutil.Factory, dopts *driverOptions, runF func(*DriverConfigOptions) error) *cobra.Command {
	opts := &DriverConfigOptions{commandDeps: newCommandDeps(f), driverOptions: dopts, ConfigPath: f.ConfigPath}
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Choose the driver: for Falco, and for the next 'driver install'",
		Long: `Choose the driver, as falcoctl's 'driver config' does: with one --type, that
type; with a list (or auto), the first the kernel supports.

With --update-falco (the default), Falco is told: <falco-config-dir>/config.d/
engine-kind-falcoctl.yaml says "engine: {kind: <type>}" (atomically; Falco
0.38+ reads config.d over falco.yaml), unless <falco-config-dir>/falco.yaml
runs an engine that is not a driver (plugins, gvisor), which is left alone.

The choice (type, name, repos, version, host root) is stored in the driver
section of the config file (--config; falcoctl's driver.{type,name,repos,
version,hostRoot}), where the driver commands read what their flags do not
say: the driver-loader image runs 'driver config --type X' and then
'driver install' with no --type.

falcoctl's Kubernetes flags (--kubeconfig, --namespace, --configmap, and
FALCOCTL_DRIVER_CONFIG_NAMESPACE / _CONFIGMAP, which Falco's chart sets with
driver.kind auto) name Falco's ConfigMap, which falcoctl reads only to check
that Falco runs with a driver before it writes the same config.d drop-in.
ferry has no Kubernetes client: it says so on stderr, assumes Falco runs
with a driver (the chart runs its driver loader only then) and writes the
drop-in, which the chart shares with Falco's container.`,
		Example: `  ferry driver config --type kmod
  ferry driver config --type modern_ebpf --type kmod --host-root /host
  ferry driver config --type kmod --update-falco=false`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.IO = f.IO
			if err := opts.resolve(cmd, f); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return driverConfigRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print what would be written and write nothing")
	fl.BoolVar(&opts.UpdateFalco, "update-falco", true, "write Falco's engine-kind drop-in (falcoctl's flag)")
	fl.StringVar(&opts.FalcoConfigDir, "falco-config-dir", driver.DefaultFalcoConfigDir, "Falco's configuration directory (falcoctl's flag)")
	fl.StringVar(&opts.Kubeconfig, "kubeconfig", "", "falcoctl's flag: accepted, not read (ferry reads no Kubernetes ConfigMap)")
	fl.StringVar(&opts.Namespace, "namespace", "", "falcoctl's flag: Falco's ConfigMap namespace, not read (ferry assumes Falco runs with a driver)")
	fl.StringVar(&opts.ConfigMap, "configmap", "", "falcoctl's flag: Falco's ConfigMap, not read (ferry assumes Falco runs with a driver)")
	return cmd
}

// driverConfigView is the JSON shape of `driver config`.
type driverConfigView struct {
	Type       string           `json:"type"`
	Falco      *driverFalcoView `json:"falco,omitempty"`
	ConfigFile string           `json:"configFile"`
	DryRun     bool             `json:"dryRun,omitempty"`
}

// driverFalcoView is what driver config told Falco: the drop-in written.
type driverFalcoView struct {
	Path    string `json:"path"`
	Kind    string `json:"kind"`
	Changed bool   `json:"changed"`
	// Skipped says why Falco's configuration was left alone.
	Skipped string `json:"skipped,omitempty"`
	DryRun  bool   `json:"dryRun,omitempty"`
}

func driverConfigRun(_ context.Context, opts *DriverConfigOptions) error {
	if opts.UpdateFalco && (opts.Kubeconfig != "" || opts.Namespace != "" || opts.ConfigMap != "") {
		fmt.Fprintf(opts.IO.ErrOut, "warning: Falco's ConfigMap %s/%s is not read (ferry has no Kubernetes client): "+
			"Falco is assumed to run with a driver, and the drop-in goes to %s\n",
			opts.Namespace, opts.ConfigMap, filepath.Join(opts.FalcoConfigDir, "config.d"))
	}
	if !filepath.IsAbs(opts.FalcoConfigDir) {
		return cmdutil.Usage(fmt.Errorf("--falco-config-dir must be an absolute path, not %q", opts.FalcoConfigDir))
	}
	types, _ := driver.ParseTypes(opts.Types)
	typ := types[0]
	if len(types) > 1 {
		t, err := opts.detect(opts.Logger())
		if err != nil {
			return err
		}
		if typ, err = driver.ChooseType(types, t); err != nil {
			return &cmdutil.CodedError{Code: cmdutil.ExitNotFound, Err: err}
		}
	}
	v := driverConfigView{Type: string(typ), ConfigFile: opts.ConfigPath(), DryRun: opts.DryRun}
	var res *driver.ConfigResult
	if opts.UpdateFalco {
		var err error
		if res, err = driver.WriteEngineConfig(opts.FalcoConfigDir, typ, opts.DryRun); err != nil {
			return err
		}
		v.Falco = &driverFalcoView{Path: res.Path, Kind: string(res.Kind), Changed: res.Changed, Skipped: res.Skipped, DryRun: res.DryRun}
	}
	if !opts.DryRun {
		err := storeDriverSection(v.ConfigFile, driverSection{Type: []string{string(typ)}, Name: opts.Name, Repos: opts.Repos,
			Version: opts.driverVersion(), HostRoot: opts.HostRoot})
		if err != nil {
			return err
		}
	}
	if opts.Global.JSON() {
		return printJSON(opts.IO.Out, v)
	}
	w := opts.IO.Out
	if res != nil {
		switch {
		case res.Skipped != "":
			fmt.Fprintf(w, "Falco's configuration is left alone: %s\n", res.Skipped)
		case !res.Changed:
			fmt.Fprintf(w, "Falco is already configured for %s in %s\n", res.Kind, res.Path)
		case opts.DryRun:
			fmt.Fprintf(w, "Would configure Falco for %s in %s\n", res.Kind, res.Path)
		default:
			fmt.Fprintf(w, "Configured Falco for %s in %s\n", res.Kind, res.Path)
		}
	}
	if opts.DryRun {
		fmt.Fprintf(w, "Would store driver type %s in %s\n", typ, v.ConfigFile)
	} else {
		fmt.Fprintf(w, "Stored driver type %s in %s\n", typ, v.ConfigFile)
	}
	return nil
}
