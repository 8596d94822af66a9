package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/install"
)

// LockOptions are the dependencies and flag values of artifact lock.
type LockOptions struct {
	commandDeps
	resolveOptions
	Refs     []string
	StateDir string
	LockFile string
}

// lockView is the JSON shape of artifact lock: the lock file written. Its
// field names are the Go names the command printed from its first
// version, kept so that no script breaks.
type lockView struct {
	Version   int              `json:"Version"`
	Artifacts []lockedArtifact `json:"Artifacts"`
}

// lockedArtifact is one pinned artifact of lockView.
type lockedArtifact struct {
	Name           string   `json:"Name"`
	Index          string   `json:"Index"`
	Ref            string   `json:"Ref"`
	Type           string   `json:"Type"`
	Version        string   `json:"Version"`
	Registry       string   `json:"Registry"`
	Repository     string   `json:"Repository"`
	Digest         string   `json:"Digest"`
	Platform       string   `json:"Platform"`
	ManifestDigest string   `json:"ManifestDigest"`
	LayerDigest    string   `json:"LayerDigest"`
	DependsOn      []string `json:"DependsOn"`
}

func newLockView(l *install.LockFile) lockView {
	v := lockView{Version: l.Version}
	if l.Artifacts != nil {
		v.Artifacts = make([]lockedArtifact, 0, len(l.Artifacts))
	}
	for _, a := range l.Artifacts {
		v.Artifacts = append(v.Artifacts, lockedArtifact{
			Name: a.Name, Index: a.Index, Ref: a.Ref, Type: a.Type, Version: a.Version, Registry: a.Registry,
			Repository: a.Repository, Digest: a.Digest, Platform: a.Platform, ManifestDigest: a.ManifestDigest,
			LayerDigest: a.LayerDigest, DependsOn: a.DependsOn,
		})
	}
	return v
}

// NewCmdLock builds artifact lock. runF, when not nil, receives the parsed
// and validated options instead of lockRun (tests use it).
func NewCmdLock(f *cmdutil.Factory, runF func(*LockOptions) error) *cobra.Command {
	opts := &LockOptions{commandDeps: newCommandDeps(f)}
	cmd := &cobra.Command{
		Use:   "lock REF...",
		Short: "Resolve references and their dependencies and write the lock file, installing nothing",
		Example: `  ferry artifact lock falco-rules:3 k8saudit-rules:0.x --lock-file ferry.lock
  ferry artifact install --locked --lock-file ferry.lock`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Refs = f.IO, args
			if runF != nil {
				return runF(opts)
			}
			return lockRun(cmd.Context(), opts)
		},
	}
	opts.resolveOptions.AddFlags(cmd)
	cmdutil.Declare(cmd.Flags(), "state-dir", &opts.StateDir)
	cmd.Flags().StringVar(&opts.LockFile, "lock-file", "", "lock file to write (default <state-dir>/ferry.lock)")
	return cmd
}

func (o *LockOptions) lockPath() string {
	if o.LockFile != "" {
		return o.LockFile
	}
	return filepath.Join(o.StateDir, "ferry.lock")
}

func lockRun(ctx context.Context, opts *LockOptions) error {
	state, err := install.LoadState(opts.StateDir)
	if err != nil {
		return err
	}
	p, err := newPlanner(ctx, opts.commandDeps, &opts.resolveOptions, state)
	if err != nil {
		return err
	}
	plan, err := p.Plan(ctx, opts.Refs)
	if err != nil {
		return err
	}
	lock, err := p.LockPlan(ctx, plan)
	if err != nil {
		return err
	}
	path := opts.lockPath()
	if err := lock.Write(path); err != nil {
		return fmt.Errorf("writing the lock file: %w", err)
	}
	if opts.Global.JSON() {
		return printJSON(opts.IO.Out, newLockView(lock))
	}
	for _, a := range lock.Artifacts {
		fmt.Fprintf(opts.IO.Out, "Locked %s %s (%s) at %s\n", a.Name, a.Version, a.Type, a.Digest)
	}
	fmt.Fprintf(opts.IO.Out, "Wrote %s\n", path)
	return nil
}
