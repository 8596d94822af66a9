package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/events"
	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/oci"
)

// PromoteOptions are the dependencies and flag values of artifact promote.
type PromoteOptions struct {
	commandDeps
	verifyOptions
	eventsOptions
	Src, Dst     string
	FloatingTags bool
}

// promoteView is the stable JSON shape of a promotion; the fields of
// promotedView are there once something was promoted.
type promoteView struct {
	Source     verifyView `json:"source"`
	Registry   string     `json:"registry"`
	Repository string     `json:"repository"`
	*promotedView
}

// promotedView is what a promotion did in the destination.
type promotedView struct {
	Digest    string `json:"digest"`
	MediaType string `json:"mediaType"`
	Size      int64  `json:"size"`
	Version   string `json:"version,omitempty"`
	// Tags point at the artifact in the destination; Retagged are those
	// this run moved or created.
	Tags     []string `json:"tags"`
	Retagged []string `json:"retagged"`
	// Copied are the digests this run copied; Skipped counts those the
	// destination had.
	Copied     []string `json:"copied"`
	Skipped    int      `json:"skipped"`
	Referrers  []string `json:"referrers,omitempty"`
	CosignTags []string `json:"cosignTags,omitempty"`
}

func newPromotedView(r *oci.PromoteResult) *promotedView {
	return &promotedView{
		Digest: r.Digest.String(), MediaType: r.MediaType, Size: r.Size, Version: r.Version, Tags: r.Tags, Retagged: r.Retagged,
		Copied: r.Copied, Skipped: r.Skipped, Referrers: r.Referrers, CosignTags: r.CosignTags,
	}
}

// NewCmdPromote builds artifact promote. runF, when not nil, receives the
// parsed and validated options instead of promoteRun (tests use it).
func NewCmdPromote(f *cmdutil.Factory, runF func(*PromoteOptions) error) *cobra.Command {
	opts := &PromoteOptions{commandDeps: newCommandDeps(f)}
	cmd := &cobra.Command{
		Use:   "promote SRC DST",
		Short: "Verify an artifact and copy it, with its signatures, by digest to another repository",
		Long: `Verify SRC as "ferry artifact verify" does, then copy its manifest, blobs and
referrers (signatures, attestations, and cosign's sha256-<digest>.sig tags)
by digest to DST, check that DST resolves to the same digest, and tag it with
its version (DST's tag, else SRC's version). --add-floating-tags also points
X.Y and X at it unless a higher version in DST holds them. What DST already
has is not copied again: promoting twice copies nothing. A failed check
copies nothing (exit 5).

SRC is any reference "ferry artifact install" takes; DST is HOST/REPO[:TAG]
or the name of an index entry.`,
		Example: `  ferry artifact promote staging.internal/falco/rules:1.2.3 ghcr.io/acme/rules --add-floating-tags
  ferry artifact promote staging/rules:1.x prod/rules --digest sha256:0123...`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Src, opts.Dst = f.IO, args[0], args[1]
			if err := opts.verifyOptions.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return promoteRun(cmd.Context(), opts)
		},
	}
	opts.verifyOptions.AddFlags(cmd)
	opts.eventsOptions.AddFlags(cmd)
	cmd.Flags().BoolVar(&opts.FloatingTags, "add-floating-tags", false, "also tag X.Y and X in DST, unless a higher version holds them")
	return cmd
}

func promoteRun(ctx context.Context, opts *PromoteOptions) (err error) {
	srcRaw, dstRaw := opts.Src, opts.Dst
	dst, dstTag, err := promoteDestination(ctx, opts.commandDeps, dstRaw)
	if err != nil {
		return err
	}
	resolver, err := newResolver(ctx, opts.commandDeps, "")
	if err != nil {
		return err
	}
	em, err := opts.eventsOptions.Build(opts.commandDeps, opts.StateDir)
	if err != nil {
		return err
	}
	v, err := verifyRef(ctx, opts.commandDeps, resolver, srcRaw, &opts.verifyOptions)
	if err != nil {
		return err
	}
	out := opts.IO.Out
	view := promoteView{Source: newVerifyView(srcRaw, v), Registry: dst.Registry, Repository: dst.Repository}
	if verr := v.Report.Err(); verr != nil {
		if opts.Global.JSON() {
			_ = printJSON(out, view)
		} else {
			printChecks(out, view.Source)
		}
		return fmt.Errorf("not promoting: %w", verr)
	}
	tag := dstTag
	if tag == "" && v.Res.Version != "" {
		tag = v.Res.Tag
	}
	start := time.Now()
	res, err := resolver.Client.Promote(ctx, v.Res.Location, dst, oci.PromoteRequest{
		Reference: v.Report.Digest.String(), Expected: v.Report.Digest, Tag: tag, FloatingTags: opts.FloatingTags,
	})
	if err != nil {
		return fmt.Errorf("promoting %s to %s: %w", srcRaw, dst, err)
	}
	view.promotedView = newPromotedView(res)
	if em.Enabled() && len(res.Copied)+len(res.Retagged) > 0 {
		defer func() {
			if err == nil {
				a := events.Artifact{
					Name: v.Res.Name, Index: v.Res.Index, Version: res.Version, Ref: dstRaw, Registry: dst.Registry, Repository: dst.Repository,
					Tag: res.Version, Digest: res.Digest.String(), ServedBy: v.Res.Location.String(), Path: v.Res.Location.String(),
					Bytes: v.Report.Bytes, Duration: time.Since(start), User: registryUser(ctx, opts.commandDeps, em, dst.Registry),
				}
				if a.Name == "" {
					a.Name = dst.Repository[strings.LastIndex(dst.Repository, "/")+1:]
				}
				var w []string
				w, err = em.Published(ctx, a)
				printEventWarnings(opts.IO.ErrOut, w)
			}
		}()
	}
	if opts.Global.JSON() {
		return printJSON(out, view)
	}
	printChecks(out, view.Source)
	verb := "Promoted"
	if len(res.Copied) == 0 && len(res.Retagged) == 0 {
		verb = "Already promoted"
	}
	fmt.Fprintf(out, "%s %s to %s\n  digest  %s\n  tags    %s\n  copied  %d (%d already there)\n",
		verb, srcRaw, dst, res.Digest, strings.Join(res.Tags, ", "), len(res.Copied), res.Skipped)
	if n := len(res.Referrers) + len(res.CosignTags); n > 0 {
		fmt.Fprintf(out, "  signatures and attestations  %d\n", n)
	}
	return nil
}

// promoteDestination reads DST: HOST/REPO[:TAG] or an index entry's name.
func promoteDestination(ctx context.Context, deps commandDeps, raw string) (oci.Location, string, error) {
	ref, err := index.ParseReference(raw)
	if err != nil {
		return oci.Location{}, "", err
	}
	if ref.Digest != "" {
		return oci.Location{}, "", cmdutil.Usage(errors.New("the destination is a repository (with an optional tag), not a digest"))
	}
	if ref.IsOCI() {
		return oci.Location{Registry: ref.Registry, Repository: ref.Repository}, ref.Tag, nil
	}
	set, err := deps.Indexes(ctx)
	if err != nil {
		return oci.Location{}, "", err
	}
	entry, _, err := set.Lookup(ref.Index, ref.Name)
	if err != nil {
		return oci.Location{}, "", err
	}
	return oci.Location{Registry: entry.Registry, Repository: entry.Repository}, ref.Constraint, nil
}
