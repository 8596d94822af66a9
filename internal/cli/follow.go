package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/install"
)

type followOptions struct {
	dirOptions
	resolveOptions
	eventsOptions
	Every    time.Duration
	Cron     string
	Jitter   time.Duration
	Grace    time.Duration
	OnUpdate string
	fetchOptions
}

// followCheckView is the JSON line printed per check.
type followCheckView struct {
	Time    time.Time        `json:"time"`
	Updated []install.Result `json:"updated"`
	Checked int              `json:"checked"`
	Error   string           `json:"error,omitempty"`
	Next    *time.Time       `json:"next,omitempty"`
}

func newCmdArtifactFollow(f *cmdutil.Factory) *cobra.Command {
	opts := &followOptions{}
	cmd := &cobra.Command{
		Use:   "follow REF...",
		Short: "Keep artifacts at the newest version their constraint allows, checking on a schedule",
		Long: `Check REF... every --every (or on the --cron schedule), after a random start-up
delay of up to --jitter, and install a newer version when one satisfies the
constraint and the engine's requirements, with dependencies, verification and
events, exactly as "ferry artifact install" does. A version whose requirement
the engine does not meet is skipped. The install state is follow's state: a
restart picks up where it stopped. A check that finds nothing new lists tags
and reads one manifest per artifact, and downloads nothing.

After a check that installed something, --on-update runs CMD with sh -c (the
updated artifacts in FERRY_UPDATED as NAME@VERSION, space-separated), e.g. to
make Falco reload its rules.

follow runs until SIGINT or SIGTERM; a check in progress is allowed to finish
(up to --grace), so no artifact is left half-installed. It suits a
container's main process. A check that fails (registry down) is logged and
retried at the next tick.`,
		Example: `  ferry artifact follow falco-rules:3 --every 6h --on-update 'kill -1 $(pidof falco)'
  ferry artifact follow k8saudit-rules:0.x --cron '0 */4 * * *' --engine-versions-url http://localhost:8765/versions`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return followRun(cmd, f, opts, args)
		},
	}
	opts.dirOptions.AddFlags(cmd)
	opts.resolveOptions.AddFlags(cmd)
	opts.eventsOptions.AddFlags(cmd)
	fl := cmd.Flags()
	fl.DurationVar(&opts.Every, "every", 6*time.Hour, "time between checks")
	fl.StringVar(&opts.Cron, "cron", "", `check on this cron schedule instead ("MIN HOUR DOM MON DOW", local time)`)
	fl.DurationVar(&opts.Jitter, "jitter", time.Minute, "random delay of up to this before the first check (at most --every)")
	fl.DurationVar(&opts.Grace, "grace", 30*time.Second, "on SIGINT/SIGTERM, time a check in progress has to finish")
	fl.StringVar(&opts.OnUpdate, "on-update", "", "command run with sh -c after a check installed something")
	opts.fetchOptions.AddFlags(cmd)
	return cmd
}

func followRun(cmd *cobra.Command, f *cmdutil.Factory, opts *followOptions, refs []string) error {
	if err := opts.dirOptions.Validate(); err != nil {
		return err
	}
	if err := opts.platformOptions.Validate(); err != nil {
		return err
	}
	if err := opts.fetchOptions.Validate(); err != nil {
		return err
	}
	var schedule install.Schedule = install.Every(opts.Every)
	if opts.Cron != "" {
		c, err := install.ParseCron(opts.Cron)
		if err != nil {
			return cmdutil.Usage(err)
		}
		schedule = c
	} else if opts.Every <= 0 {
		return cmdutil.Usage(errors.New("--every must be positive"))
	}
	if opts.Jitter < 0 {
		return cmdutil.Usage(errors.New("--jitter must not be negative"))
	}
	jitter := opts.Jitter
	if opts.Cron == "" && jitter > opts.Every {
		jitter = opts.Every
	}
	em, err := opts.eventsOptions.Build(f, opts.StateDir)
	if err != nil {
		return err
	}
	in, err := newInstaller(cmd, f, &opts.dirOptions, &opts.resolveOptions, &opts.fetchOptions)
	if err != nil {
		return err
	}
	prog := newProgress(cmd.Context(), f)
	if prog != nil {
		in.Progress = prog
	}
	// The engine's versions are read before every check: Falco may have
	// been upgraded since the last one.
	log := f.Logger()
	fw := &install.Follower{
		Installer: in, Refs: refs, Schedule: schedule, Jitter: jitter, Grace: opts.Grace,
		BeforeCheck: func(_ context.Context, in *install.Installer) error {
			engine, err := opts.Engine(cmd, f)
			if err != nil {
				return err
			}
			in.Engine = engine
			return nil
		},
		OnCheck: func(ctx context.Context, c install.FollowCheck) {
			prog.Wait()
			view := followCheckView{Time: c.Started, Updated: c.Updated, Checked: len(c.Results)}
			if view.Updated == nil {
				view.Updated = []install.Result{}
			}
			if !c.Next.IsZero() {
				view.Next = &c.Next
			}
			if c.Err != nil {
				view.Error = c.Err.Error()
				fmt.Fprint(f.IO.ErrOut, "warning: check failed: "+strings.TrimPrefix(cmdutil.FormatError(c.Err), "error: "))
			}
			if err := emitDownloaded(cmd, f, em, c.Updated); len(c.Updated) > 0 && err != nil {
				fmt.Fprintf(f.IO.ErrOut, "warning: %v\n", err)
			}
			if f.Global.JSON() {
				_ = json.NewEncoder(f.IO.Out).Encode(view) // one line per check
			} else {
				for _, r := range c.Updated {
					printResult(f, r)
				}
			}
			printUnverified(f, c.Updated)
			if len(c.Updated) > 0 && opts.OnUpdate != "" {
				runOnUpdate(ctx, f, opts.OnUpdate, c.Updated)
			}
			log.Info("check done", "checked", len(c.Results), "updated", len(c.Updated), "next", c.Next.Format(time.RFC3339))
		},
	}
	log.Info("following", "refs", strings.Join(refs, " "), "schedule", scheduleString(opts), "jitter", jitter)
	// Only the follower watches for a stop request: what it lets finish
	// (events, the engine's versions) runs on a context that outlives it.
	runCtx := cmd.Context()
	cmd.SetContext(context.WithoutCancel(runCtx))
	return fw.Run(runCtx)
}

func scheduleString(o *followOptions) string {
	if o.Cron != "" {
		return "cron " + o.Cron
	}
	return "every " + o.Every.String()
}

// runOnUpdate runs the --on-update command; its output goes to stderr
// (stdout carries results only).
func runOnUpdate(ctx context.Context, f *cmdutil.Factory, command string, updated []install.Result) {
	var names []string
	for _, r := range updated {
		names = append(names, r.Name+"@"+r.Version)
	}
	c := exec.CommandContext(ctx, "sh", "-c", command)
	c.Env = append(os.Environ(), "FERRY_UPDATED="+strings.Join(names, " "))
	c.Stdout, c.Stderr = f.IO.ErrOut, f.IO.ErrOut
	if err := c.Run(); err != nil {
		fmt.Fprintf(f.IO.ErrOut, "warning: --on-update %q: %v\n", command, err)
	}
}
