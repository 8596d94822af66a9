package cli

import (
	"context"
	"fmt"
	"runtime"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

// Flag groups shared by several commands, each with AddFlags and Validate
// (dirOptions, resolveOptions and fetchOptions, of the commands that
// install, are in install.go; eventsOptions, with the emitter it builds,
// in events.go; signatureOptions in signature.go).

// platformOptions is the --platform flag group.
type platformOptions struct{ Platform string }

func (p *platformOptions) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&p.Platform, "platform", runtime.GOOS+"/"+runtime.GOARCH, "platform OS/ARCH of plugins to pick from an image index")
}

func (p *platformOptions) Validate() error {
	os, arch, ok := strings.Cut(p.Platform, "/")
	if !ok || os == "" || arch == "" || strings.Contains(arch, "/") {
		return cmdutil.Usage(fmt.Errorf("--platform must be OS/ARCH, like linux/amd64, not %q", p.Platform))
	}
	return nil
}

// typeFilterOptions is the --type filter of the commands that list index
// entries (artifact list, artifact search).
type typeFilterOptions struct{ Type string }

func (o *typeFilterOptions) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.Type, "type", "", "only artifacts of this type: rulesfile, plugin, asset")
}

func (o *typeFilterOptions) Validate() error {
	if o.Type == "" || o.Type == "driver" {
		return nil
	}
	if err := oci.ValidType(o.Type); err != nil {
		return cmdutil.Usage(err)
	}
	return nil
}

// verifyOptions is the flag group of the commands that verify a reference
// before trusting it (verify, promote).
type verifyOptions struct {
	Digest   string
	LockFile string
	StateDir string
	signatureOptions
}

func (o *verifyOptions) AddFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&o.Digest, "digest", "", "the manifest digest the reference must resolve to (sha256:...)")
	fl.StringVar(&o.LockFile, "lock-file", "", "expect the digest this lock file pins for the same version (default <state-dir>/ferry.lock, when it exists)")
	cmdutil.Declare(fl, "state-dir", &o.StateDir)
	o.signatureOptions.AddFlags(cmd)
}

func (o *verifyOptions) Validate() error {
	if o.Digest != "" {
		if _, err := digest.Parse(o.Digest); err != nil {
			return cmdutil.Usage(fmt.Errorf("--digest %q: %w", o.Digest, err))
		}
	}
	return o.signatureOptions.Validate()
}

// stateDirOption is the --state-dir of the events commands, which must
// not be empty.
type stateDirOption struct{ StateDir string }

func (o *stateDirOption) AddFlags(cmd *cobra.Command) {
	cmdutil.Declare(cmd.Flags(), "state-dir", &o.StateDir)
}

func (o *stateDirOption) Validate() error {
	if strings.TrimSpace(o.StateDir) == "" {
		return cmdutil.Usage(fmt.Errorf("--state-dir must not be empty"))
	}
	return nil
}

// credentialFlags are a user name and a password given as flags or on
// stdin (registry login, registry auth basic).
type credentialFlags struct {
	Username      string
	Password      string
	PasswordStdin bool
}

func (o *credentialFlags) AddFlags(cmd *cobra.Command, userHelp, passwordHelp string) {
	cmd.Flags().StringVarP(&o.Username, "username", "u", "", userHelp)
	cmd.Flags().StringVarP(&o.Password, "password", "p", "", passwordHelp)
	cmd.Flags().BoolVar(&o.PasswordStdin, "password-stdin", false, "read the password from stdin")
}

// newResolver resolves references against the indexes with the registry
// client, both taken from deps.
func newResolver(ctx context.Context, deps commandDeps, platform string) (*install.Resolver, error) {
	set, err := deps.Indexes(ctx)
	if err != nil {
		return nil, err
	}
	client, err := deps.OCIClient()
	if err != nil {
		return nil, err
	}
	return &install.Resolver{Indexes: set, Client: client, Platform: platform}, nil
}

// newChannelResolver is newResolver reading registries in install's channel
// order: the config's host mirrors, the primary, the entry's mirrors.
func newChannelResolver(ctx context.Context, deps commandDeps, platform string) (*install.Resolver, error) {
	r, err := newResolver(ctx, deps, platform)
	if err != nil {
		return nil, err
	}
	if r.HostMirrors, err = hostMirrors(deps.ConfigFile); err != nil {
		return nil, err
	}
	return r, nil
}

// newPlanner builds a planner from the resolution flags: platform, engine
// versions, dependencies, registry mirrors. state holds what counts as
// installed.
func newPlanner(ctx context.Context, deps commandDeps, r *resolveOptions, state *install.State) (*install.Planner, error) {
	if err := r.platformOptions.Validate(); err != nil {
		return nil, err
	}
	engine, err := r.Engine(ctx, deps)
	if err != nil {
		return nil, err
	}
	resolver, err := newResolver(ctx, deps, r.Platform)
	if err != nil {
		return nil, err
	}
	hm, err := hostMirrors(deps.ConfigFile)
	if err != nil {
		return nil, err
	}
	hc, err := deps.HTTPClient()
	if err != nil {
		return nil, err
	}
	return &install.Planner{Resolver: resolver, State: state, Engine: engine, ResolveDeps: r.ResolveDeps, Concurrency: 4, HostMirrors: hm, HTTP: hc}, nil
}

// planFresh plans refs as for a host with nothing installed (what bundle
// and mirror write out).
func planFresh(ctx context.Context, deps commandDeps, r *resolveOptions, refs []string) (*install.Planner, *install.Plan, error) {
	p, err := newPlanner(ctx, deps, r, &install.State{})
	if err != nil {
		return nil, nil, err
	}
	plan, err := p.Plan(ctx, refs)
	if err != nil {
		return nil, nil, err
	}
	return p, plan, nil
}
