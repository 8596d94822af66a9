package cli

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"
	"github.com/spf13/cobra"
	"github.com/theupdateframework/go-tuf/v2/metadata/fetcher"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/errdef"
	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

// signatureOptions is the flag group that says how signatures are checked.
type signatureOptions struct {
	Key         string
	TrustedRoot string

	mu   sync.Mutex
	root trustedRoot
}

func (o *signatureOptions) AddFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&o.Key, "key", "", "PEM public key file the cosign signature must verify with (default: the index entry's signature.cosign.key)")
	fl.StringVar(&o.TrustedRoot, "trusted-root", "", "Sigstore trusted_root.json that keyless signatures must chain to (default: Sigstore's public-good root, fetched over TUF and cached)")
}

// Validate checks the files the flags name exist: a missing one is a
// not-found (exit 3) before anything is resolved. --key may also be the
// PEM key itself.
func (o *signatureOptions) Validate() error {
	if !strings.HasPrefix(strings.TrimSpace(o.Key), "-----BEGIN") {
		if err := cmdutil.InputFile("key", o.Key); err != nil {
			return err
		}
	}
	return cmdutil.InputFile("trusted-root", o.TrustedRoot)
}

// policy is the signature policy of --key and --trusted-root: the key
// every artifact must be signed with, or each index entry's block, keyless
// signatures checked against the trusted root.
func (o *signatureOptions) policy(d commandDeps) *install.SignaturePolicy {
	return &install.SignaturePolicy{Key: o.Key, TrustedRoot: func(ctx context.Context) (*root.TrustedRoot, error) {
		tr, err := o.loadTrustedRoot(ctx, d)
		if err != nil {
			return nil, err
		}
		return tr.root, tr.err
	}}
}

// verifier returns the signature verifier for an artifact: nil when neither
// its index entry nor the flags ask for a signature.
func (o *signatureOptions) verifier(ctx context.Context, d commandDeps, entry *index.Entry) (oci.SignatureVerifier, error) {
	return o.policy(d).Verifier(ctx, entry)
}

// loadTrustedRoot returns the trusted root keyless signatures chain to:
// the --trusted-root file, read once (a file that does not parse is a
// usage error), else Sigstore's public-good root fetched over TUF. A failed
// fetch is not returned as an error: it becomes the reason the signature
// check fails. A fetched root is kept for a day and a failure for a
// minute, so that a long-running follow picks up key rotations and gets
// over a network blip.
func (o *signatureOptions) loadTrustedRoot(ctx context.Context, d commandDeps) (trustedRoot, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.root.at.IsZero() || (o.TrustedRoot == "" && time.Since(o.root.at) > o.root.ttl()) {
		if o.TrustedRoot != "" {
			if err := cmdutil.InputFile("trusted-root", o.TrustedRoot); err != nil {
				return trustedRoot{}, err
			}
			tr, err := oci.LoadTrustedRoot(o.TrustedRoot)
			if err != nil {
				return trustedRoot{}, errdef.Wrap(errdef.ErrInvalid, err)
			}
			o.root = trustedRoot{root: tr, at: time.Now()}
		} else {
			tr, err := fetchTrustedRoot(ctx, d)
			o.root = trustedRoot{root: tr, err: err, at: time.Now()}
		}
	}
	return o.root, nil
}

// trustedRoot is a trusted root, or why there is none, and when that was
// found out.
type trustedRoot struct {
	root *root.TrustedRoot
	err  error
	at   time.Time
}

func (t trustedRoot) ttl() time.Duration {
	if t.err != nil {
		return time.Minute
	}
	return 24 * time.Hour
}

// fetchTrustedRoot fetches Sigstore's public-good trusted root over TUF,
// anchored in the root sigstore-go embeds, through ferry's HTTP client
// (proxies, CA). The TUF metadata is cached under the cache directory and
// refreshed at most once a day, so a machine that fetched it once keeps
// verifying offline until the metadata expires.
func fetchTrustedRoot(ctx context.Context, d commandDeps) (*root.TrustedRoot, error) {
	hc, err := d.HTTPClient()
	if err != nil {
		return nil, err
	}
	opts := tuf.DefaultOptions().WithContext(ctx).WithCacheValidity(1)
	opts.CachePath = filepath.Join(d.CacheDir(), "sigstore-tuf")
	ft := fetcher.NewDefaultFetcher()
	ft.SetHTTPClient(ctxClient{ctx: ctx, hc: hc})
	ft.SetHTTPUserAgent("ferry/" + d.FerryVersion)
	opts.Fetcher = ft
	tr, err := root.FetchTrustedRootWithOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("fetching Sigstore's trusted root from %s over TUF failed (%w); pass --trusted-root FILE to verify offline", opts.RepositoryBaseURL, err)
	}
	return tr, nil
}

// ctxClient gives the TUF fetcher's requests the command's context, so an
// interrupt stops them.
type ctxClient struct {
	ctx context.Context
	hc  *http.Client
}

func (c ctxClient) Do(req *http.Request) (*http.Response, error) {
	return c.hc.Do(req.WithContext(c.ctx))
}
