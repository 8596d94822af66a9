package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

// verified is a reference resolved and verified.
type verified struct {
	Res    *install.Resolution
	Report *oci.VerifyReport
}

// verifyRef resolves raw (a constraint picks a version as install does) and
// verifies what it resolved to. The error is non-nil when the reference
// does not resolve; failed checks are only in the report.
func verifyRef(ctx context.Context, d commandDeps, resolver *install.Resolver, raw string, o *verifyOptions) (*verified, error) {
	res, err := resolver.Resolve(ctx, raw)
	if err != nil {
		return nil, err
	}
	req := oci.VerifyRequest{Reference: res.Root.Descriptor.Digest.String()}
	if res.Tag != "" {
		req.Reference = res.Tag
	}
	if res.Entry != nil {
		req.Type = res.Entry.Type
		if req.Type == "driver" {
			req.Type = ""
		}
	}
	switch {
	case o.Digest != "":
		req.Expected, req.ExpectedFrom = digest.Digest(o.Digest), "--digest"
	case res.Ref.Digest != "":
		req.Expected, req.ExpectedFrom = digest.Digest(res.Ref.Digest), "the reference's digest"
	default:
		if d, from, err := o.lockedDigest(res); err != nil {
			return nil, err
		} else if d != "" {
			req.Expected, req.ExpectedFrom = d, from
		}
	}
	if req.Signature, err = o.verifier(ctx, d, res.Entry); err != nil {
		return nil, err
	}
	locs := res.OCILocations()
	if req.Signature != nil && len(locs) > 1 {
		req.Signature = &signatureOnAny{v: req.Signature, locs: locs}
	}
	// The channel that served the root serves its blobs too.
	rep, err := resolver.Client.Verify(ctx, locs[0], req)
	if err != nil {
		return nil, fmt.Errorf("verifying %q: %w", raw, err)
	}
	return &verified{Res: res, Report: rep}, nil
}

// lockedDigest returns the digest the lock file pins for the resolved
// artifact at the resolved version, if it pins one.
func (o *verifyOptions) lockedDigest(res *install.Resolution) (digest.Digest, string, error) {
	path, explicit := o.LockFile, o.LockFile != ""
	if !explicit {
		path = filepath.Join(o.StateDir, "ferry.lock")
		if _, err := os.Stat(path); err != nil {
			return "", "", nil
		}
	}
	lock, err := install.ReadLock(path)
	if err != nil {
		if !explicit {
			return "", "", nil
		}
		return "", "", cmdutil.MissingFile(err)
	}
	for _, a := range lock.Artifacts {
		if a.Registry == res.Location.Registry && a.Repository == res.Location.Repository && res.Version != "" && a.Version == res.Version {
			return digest.Digest(a.Digest), "lock file " + path, nil
		}
	}
	return "", "", nil
}

// verifyView is the stable JSON shape of a verification.
type verifyView struct {
	Ref        string `json:"ref"`
	Name       string `json:"name,omitempty"`
	Index      string `json:"index,omitempty"`
	Registry   string `json:"registry"`
	Repository string `json:"repository"`
	Tag        string `json:"tag,omitempty"`
	OK         bool   `json:"ok"`
	// What the reference resolved to and what was checked.
	Reference string      `json:"reference"`
	Digest    string      `json:"digest,omitempty"`
	MediaType string      `json:"mediaType,omitempty"`
	Type      string      `json:"type,omitempty"`
	Version   string      `json:"version,omitempty"`
	Platforms []string    `json:"platforms,omitempty"`
	Checks    []checkView `json:"checks"`
	// Blobs and Bytes count the blobs fetched and hashed.
	Blobs int   `json:"blobs"`
	Bytes int64 `json:"bytes"`
}

func newVerifyView(raw string, v *verified) verifyView {
	r := v.Report
	return verifyView{
		Ref: raw, Name: v.Res.Name, Index: v.Res.Index, Registry: v.Res.Location.Registry, Repository: v.Res.Location.Repository,
		Tag: v.Res.Tag, OK: r.OK(),
		Reference: r.Reference, Digest: r.Digest.String(), MediaType: r.MediaType, Type: r.Type, Version: r.Version,
		Platforms: r.Platforms, Checks: newCheckViews(r.Checks), Blobs: r.Blobs, Bytes: r.Bytes,
	}
}

func printChecks(out io.Writer, v verifyView) {
	at := v.Registry + "/" + v.Repository
	if v.Tag != "" {
		at += ":" + v.Tag
	}
	fmt.Fprintf(out, "Verifying %s (%s)\n", at, v.Digest)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, c := range v.Checks {
		mark := "ok"
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", mark, c.Name, shortDigest(c.Subject), c.Detail)
	}
	_ = tw.Flush()
	if v.OK {
		fmt.Fprintf(out, "Verified: %d checks passed, %d blobs (%d bytes) hashed\n", len(v.Checks), v.Blobs, v.Bytes)
	}
}

func shortDigest(s string) string {
	if strings.HasPrefix(s, "sha256:") && len(s) > 19 {
		return s[:19]
	}
	return s
}

// VerifyOptions are the dependencies and flag values of artifact verify.
type VerifyOptions struct {
	commandDeps
	verifyOptions
	Ref  string
	From string
}

// NewCmdVerify builds artifact verify. runF, when not nil, receives the
// parsed and validated options instead of verifyRun (tests use it).
func NewCmdVerify(f *cmdutil.Factory, runF func(*VerifyOptions) error) *cobra.Command {
	opts := &VerifyOptions{commandDeps: newCommandDeps(f)}
	cmd := &cobra.Command{
		Use:   "verify REF",
		Short: "Check that a reference exists, is the expected digest, is complete and intact, and is signed",
		Long: `Check, without writing anything, that REF resolves; that it resolves to the
expected manifest digest (--digest, else the lock file's digest for the same
version, else the digest in REF); that every manifest and blob it references
exists and matches its digest (each one is fetched in full and hashed); that
its media types are those its type requires; and, when its index entry has a
signature block (or --key is given), that a cosign signature verifies: with
a key, or keylessly (certificate identity and OIDC issuer) against the Sigstore
trusted root of --trusted-root (default: Sigstore's public-good root, fetched
over TUF and cached; pass the file to verify offline).
Keyless signatures are found as Sigstore bundles attached as OCI referrers and
as cosign's sha256-<digest>.sig tag.

Every check is listed with ok or FAIL. Exit 3 when REF does not exist, 5 when
any check fails.`,
		Example: `  ferry artifact verify falco-rules:3
  ferry artifact verify ghcr.io/falcosecurity/rules/falco-rules:3.0.1 --digest sha256:0123...
  ferry artifact verify rules:1.x --lock-file ferry.lock -o json
  ferry artifact verify falco-rules:3 --trusted-root trusted_root.json
  ferry artifact verify --from falco-bundle.tar falco-rules:3 --trusted-root trusted_root.json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Ref = f.IO, args[0]
			if err := opts.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return verifyRun(cmd.Context(), opts)
		},
	}
	opts.verifyOptions.AddFlags(cmd)
	cmd.Flags().StringVar(&opts.From, "from", "", "verify REF inside this bundle (written by ferry artifact bundle) instead of the registry: no network")
	return cmd
}

func verifyRun(ctx context.Context, opts *VerifyOptions) error {
	var resolver *install.Resolver
	var err error
	if opts.From != "" {
		resolver, err = bundleResolver(ctx, opts.From, "")
		err = cmdutil.MissingFile(err)
	} else {
		resolver, err = newChannelResolver(ctx, opts.commandDeps, "")
	}
	if err != nil {
		return err
	}
	v, err := verifyRef(ctx, opts.commandDeps, resolver, opts.Ref, &opts.verifyOptions)
	if err != nil {
		return err
	}
	view := newVerifyView(opts.Ref, v)
	if opts.Global.JSON() {
		if err := printJSON(opts.IO.Out, view); err != nil {
			return err
		}
	} else {
		printChecks(opts.IO.Out, view)
	}
	return v.Report.Err()
}

// signatureOnAny verifies a signature on each channel that serves the
// artifact until one verifies, as install does: a signature binds the
// digest, so any channel may carry it. Otherwise it reports the first
// channel that answered.
type signatureOnAny struct {
	v    oci.SignatureVerifier
	locs []oci.Location
}

func (s *signatureOnAny) VerifySignature(ctx context.Context, c *oci.Client, _ oci.Location, desc ocispec.Descriptor) ([]oci.Check, error) {
	var first []oci.Check
	var firstErr error
	for _, loc := range s.locs {
		checks, err := s.v.VerifySignature(ctx, c, loc, desc)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		if !slices.ContainsFunc(checks, func(c oci.Check) bool { return !c.OK }) {
			return checks, nil
		}
		if first == nil {
			first = checks
		}
	}
	if first != nil {
		return first, nil
	}
	return nil, firstErr
}
