package cli

import (
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

type promoteOptions struct {
	verifyOptions
	eventsOptions
	FloatingTags bool
}

// promoteView is the stable JSON shape of a promotion.
type promoteView struct {
	Source     verifyView `json:"source"`
	Registry   string     `json:"registry"`
	Repository string     `json:"repository"`
	*oci.PromoteResult
}

func newCmdArtifactPromote(f *cmdutil.Factory) *cobra.Command {
	opts := &promoteOptions{}
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
			return promoteRun(cmd, f, opts, args[0], args[1])
		},
	}
	opts.verifyOptions.AddFlags(cmd)
	opts.eventsOptions.AddFlags(cmd)
	cmd.Flags().BoolVar(&opts.FloatingTags, "add-floating-tags", false, "also tag X.Y and X in DST, unless a higher version holds them")
	return cmd
}

func promoteRun(cmd *cobra.Command, f *cmdutil.Factory, opts *promoteOptions, srcRaw, dstRaw string) (err error) {
	if err := opts.verifyOptions.Validate(); err != nil {
		return err
	}
	dst, dstTag, err := promoteDestination(cmd, f, dstRaw)
	if err != nil {
		return err
	}
	resolver, err := newResolver(f, cmd, "")
	if err != nil {
		return err
	}
	em, err := opts.eventsOptions.Build(f, opts.StateDir)
	if err != nil {
		return err
	}
	v, err := verifyRef(cmd.Context(), f, resolver, srcRaw, &opts.verifyOptions)
	if err != nil {
		return err
	}
	view := promoteView{Source: newVerifyView(srcRaw, v), Registry: dst.Registry, Repository: dst.Repository}
	if verr := v.Report.Err(); verr != nil {
		if f.Global.JSON() {
			_ = f.PrintJSON(view)
		} else {
			printChecks(f, view.Source)
		}
		return fmt.Errorf("not promoting: %w", verr)
	}
	tag := dstTag
	if tag == "" && v.Res.Version != "" {
		tag = v.Res.Tag
	}
	start := time.Now()
	res, err := resolver.Client.Promote(cmd.Context(), v.Res.Location, dst, oci.PromoteRequest{
		Reference: v.Report.Digest.String(), Expected: v.Report.Digest, Tag: tag, FloatingTags: opts.FloatingTags,
	})
	if err != nil {
		return fmt.Errorf("promoting %s to %s: %w", srcRaw, dst, err)
	}
	view.PromoteResult = res
	if em.Enabled() && len(res.Copied)+len(res.Retagged) > 0 {
		defer func() {
			if err == nil {
				a := events.Artifact{
					Name: v.Res.Name, Index: v.Res.Index, Version: res.Version, Ref: dstRaw, Registry: dst.Registry, Repository: dst.Repository,
					Tag: res.Version, Digest: res.Digest.String(), ServedBy: v.Res.Location.String(), Path: v.Res.Location.String(),
					Bytes: v.Report.Bytes, Duration: time.Since(start), User: registryUser(cmd.Context(), f, em, dst.Registry),
				}
				if a.Name == "" {
					a.Name = dst.Repository[strings.LastIndex(dst.Repository, "/")+1:]
				}
				var w []string
				w, err = em.Published(cmd.Context(), a)
				printEventWarnings(f, w)
			}
		}()
	}
	if f.Global.JSON() {
		return f.PrintJSON(view)
	}
	printChecks(f, view.Source)
	verb := "Promoted"
	if len(res.Copied) == 0 && len(res.Retagged) == 0 {
		verb = "Already promoted"
	}
	fmt.Fprintf(f.IO.Out, "%s %s to %s\n  digest  %s\n  tags    %s\n  copied  %d (%d already there)\n",
		verb, srcRaw, dst, res.Digest, strings.Join(res.Tags, ", "), len(res.Copied), res.Skipped)
	if n := len(res.Referrers) + len(res.CosignTags); n > 0 {
		fmt.Fprintf(f.IO.Out, "  signatures and attestations  %d\n", n)
	}
	return nil
}

// promoteDestination reads DST: HOST/REPO[:TAG] or an index entry's name.
func promoteDestination(cmd *cobra.Command, f *cmdutil.Factory, raw string) (oci.Location, string, error) {
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
	set, err := f.Indexes(cmd.Context())
	if err != nil {
		return oci.Location{}, "", err
	}
	entry, _, err := set.Lookup(ref.Index, ref.Name)
	if err != nil {
		return oci.Location{}, "", err
	}
	return oci.Location{Registry: entry.Registry, Repository: entry.Repository}, ref.Constraint, nil
}
