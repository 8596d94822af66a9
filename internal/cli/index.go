package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	ferryhttp "github.com/ferryhq/ferry/internal/http"
	"github.com/ferryhq/ferry/pkg/index"
)

func newCmdIndex(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "index",
		Short: "Manage the indexes that name artifacts",
		Long: `Manage the indexes that name artifacts. The embedded index "default" lists the
official Falco artifacts; an index added with the same name shadows it.`,
	}
	cmd.AddCommand(NewCmdIndexAdd(f, nil), NewCmdIndexList(f, nil), NewCmdIndexRemove(f, nil), NewCmdIndexUpdate(f, nil))
	return cmd
}

// indexView is the JSON shape of an index (index add, list, update).
type indexView struct {
	Name    string     `json:"name"`
	URL     string     `json:"url"`
	Entries int        `json:"entries"`
	Updated *time.Time `json:"updated,omitempty"`
}

// indexRemoveView is the JSON shape of index remove.
type indexRemoveView struct {
	Removed []string `json:"removed"`
}

// indexDeps are what the index commands take from the Factory beyond
// commandDeps: the config file's path, the index cache, the fetch.
type indexDeps struct {
	ConfigPath     func() string
	IndexCachePath func(name string) string
	// FetchIndex fetches, parses and caches the index at url as name.
	FetchIndex func(ctx context.Context, name, url string) (*index.Index, error)
}

func newIndexDeps(f *cmdutil.Factory) indexDeps {
	return indexDeps{ConfigPath: f.ConfigPath, IndexCachePath: f.IndexCachePath, FetchIndex: f.FetchIndex}
}

// IndexAddOptions are the dependencies and arguments of index add.
type IndexAddOptions struct {
	commandDeps
	indexDeps
	Name, URL, Backend string
}

// NewCmdIndexAdd builds index add. runF, when not nil, receives the parsed
// and validated options instead of indexAddRun (tests use it).
func NewCmdIndexAdd(f *cmdutil.Factory, runF func(*IndexAddOptions) error) *cobra.Command {
	opts := &IndexAddOptions{commandDeps: newCommandDeps(f), indexDeps: newIndexDeps(f)}
	return &cobra.Command{
		Use:   "add NAME URL [BACKEND]",
		Short: "Add an index (https://, http://, file:// or a path); it is fetched now and cached",
		Long: `Add an index (https://, http://, file:// or a path); it is fetched now and cached.
BACKEND is falcoctl's optional backend name: http, https or file (it must fit
the URL); gcs and s3 are not supported.`,
		Example: `  ferry index add falcosecurity https://falcosecurity.github.io/falcoctl/index.yaml
  ferry index add local ./index.yaml
  ferry index add local file:///srv/index.yaml file`,
		Args: usageArgs(cobra.RangeArgs(2, 3)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Name, opts.URL, opts.Backend = f.IO, args[0], args[1], strings.Join(args[2:], "")
			if err := opts.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return indexAddRun(cmd.Context(), opts)
		},
	}
}

// Validate checks the name, the URL (made absolute when it is a path) and
// the backend before anything is fetched.
func (o *IndexAddOptions) Validate() error {
	url, err := indexLocation(o.URL)
	if err != nil {
		return err
	}
	o.URL = url
	if !index.ValidName(o.Name) {
		return cmdutil.Usage(fmt.Errorf("invalid index name %q: use lowercase letters, digits, - and _", o.Name))
	}
	if err := ferryhttp.CheckIndexBackend(o.URL, o.Backend); err != nil {
		return cmdutil.Usage(err)
	}
	return nil
}

func indexAddRun(ctx context.Context, opts *IndexAddOptions) error {
	name, url := opts.Name, opts.URL
	cfg, err := opts.ConfigFile()
	if err != nil {
		return err
	}
	if slices.ContainsFunc(cfg.Indexes, func(ic cmdutil.IndexConfig) bool { return ic.Name == name }) {
		return cmdutil.Usage(fmt.Errorf("index %q exists already (remove it first, or run: ferry index update %s)", name, name))
	}
	idx, err := opts.FetchIndex(ctx, name, url)
	if errors.Is(err, index.ErrInvalidIndex) {
		return cmdutil.Usage(err)
	}
	if err != nil {
		return cmdutil.MissingFile(err)
	}
	cfg.Indexes = append(cfg.Indexes, cmdutil.IndexConfig{Name: name, URL: url})
	if err := cfg.Save(opts.ConfigPath()); err != nil {
		return fmt.Errorf("saving config: %w", err)
	}
	if opts.Global.JSON() {
		return printJSON(opts.IO.Out, indexView{Name: name, URL: url, Entries: idx.Len()})
	}
	fmt.Fprintf(opts.IO.Out, "Added index %q (%s) from %s\n", name, artifactCount(idx.Len()), url)
	return nil
}

// IndexListOptions are the dependencies of index list.
type IndexListOptions struct {
	commandDeps
	indexDeps
}

// NewCmdIndexList builds index list. runF, when not nil, receives the
// options instead of indexListRun (tests use it).
func NewCmdIndexList(f *cmdutil.Factory, runF func(*IndexListOptions) error) *cobra.Command {
	opts := &IndexListOptions{commandDeps: newCommandDeps(f), indexDeps: newIndexDeps(f)}
	return &cobra.Command{
		Use:     "list",
		Short:   "List the indexes in use",
		Example: `  ferry index list -o json`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.IO = f.IO
			if runF != nil {
				return runF(opts)
			}
			return indexListRun(cmd.Context(), opts)
		},
	}
}

func indexListRun(ctx context.Context, opts *IndexListOptions) error {
	set, err := opts.Indexes(ctx)
	if err != nil {
		return err
	}
	var views []indexView
	for _, idx := range set.Indexes() {
		v := indexView{Name: idx.Name, URL: idx.URL, Entries: idx.Len()}
		if fi, err := os.Stat(opts.IndexCachePath(idx.Name)); err == nil && idx.URL != "embedded" {
			t := fi.ModTime().UTC().Truncate(time.Second)
			v.Updated = &t
		}
		views = append(views, v)
	}
	if opts.Global.JSON() {
		return printJSON(opts.IO.Out, views)
	}
	tw := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tARTIFACTS\tUPDATED\tURL")
	for _, v := range views {
		updated := "-"
		if v.Updated != nil {
			updated = v.Updated.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", v.Name, v.Entries, updated, v.URL)
	}
	return tw.Flush()
}

// IndexRemoveOptions are the dependencies and arguments of index remove.
type IndexRemoveOptions struct {
	commandDeps
	indexDeps
	Names []string
}

// NewCmdIndexRemove builds index remove. runF, when not nil, receives the
// options instead of indexRemoveRun (tests use it).
func NewCmdIndexRemove(f *cmdutil.Factory, runF func(*IndexRemoveOptions) error) *cobra.Command {
	opts := &IndexRemoveOptions{commandDeps: newCommandDeps(f), indexDeps: newIndexDeps(f)}
	return &cobra.Command{
		Use:     "remove NAME...",
		Short:   "Remove indexes (the embedded default cannot be removed, only shadowed)",
		Example: `  ferry index remove local`,
		Args:    usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Names = f.IO, args
			if runF != nil {
				return runF(opts)
			}
			return indexRemoveRun(cmd.Context(), opts)
		},
	}
}

func indexRemoveRun(_ context.Context, opts *IndexRemoveOptions) error {
	cfg, err := opts.ConfigFile()
	if err != nil {
		return err
	}
	for _, name := range opts.Names {
		i := slices.IndexFunc(cfg.Indexes, func(ic cmdutil.IndexConfig) bool { return ic.Name == name })
		if i < 0 {
			if name == cmdutil.DefaultIndexName {
				return cmdutil.Usage(errors.New(`the embedded index "default" cannot be removed; add an index named "default" to shadow it`))
			}
			return &cmdutil.CodedError{Code: cmdutil.ExitNotFound, Err: fmt.Errorf("no index named %q", name)}
		}
		cfg.Indexes = slices.Delete(cfg.Indexes, i, i+1)
	}
	if err := cfg.Save(opts.ConfigPath()); err != nil {
		return fmt.Errorf("saving config: %w", err)
	}
	for _, name := range opts.Names {
		if err := index.RemoveCached(opts.IndexCachePath(name)); err != nil {
			return err
		}
		if !opts.Global.JSON() {
			fmt.Fprintf(opts.IO.Out, "Removed index %q\n", name)
		}
	}
	if opts.Global.JSON() {
		return printJSON(opts.IO.Out, indexRemoveView{Removed: opts.Names})
	}
	return nil
}

// IndexUpdateOptions are the dependencies and arguments of index update.
type IndexUpdateOptions struct {
	commandDeps
	indexDeps
	// Names are the indexes to fetch again; none means every added one.
	Names []string
}

// NewCmdIndexUpdate builds index update. runF, when not nil, receives the
// options instead of indexUpdateRun (tests use it).
func NewCmdIndexUpdate(f *cmdutil.Factory, runF func(*IndexUpdateOptions) error) *cobra.Command {
	opts := &IndexUpdateOptions{commandDeps: newCommandDeps(f), indexDeps: newIndexDeps(f)}
	return &cobra.Command{
		Use:     "update [NAME...]",
		Short:   "Fetch indexes again (all added ones by default)",
		Example: `  ferry index update`,
		Args:    usageArgs(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Names = f.IO, args
			if runF != nil {
				return runF(opts)
			}
			return indexUpdateRun(cmd.Context(), opts)
		},
	}
}

func indexUpdateRun(ctx context.Context, opts *IndexUpdateOptions) error {
	cfg, err := opts.ConfigFile()
	if err != nil {
		return err
	}
	var views []indexView
	for _, ic := range cfg.Indexes {
		if len(opts.Names) > 0 && !slices.Contains(opts.Names, ic.Name) {
			continue
		}
		idx, err := opts.FetchIndex(ctx, ic.Name, ic.URL)
		if err != nil {
			return cmdutil.MissingFile(err)
		}
		views = append(views, indexView{Name: ic.Name, URL: ic.URL, Entries: idx.Len()})
	}
	for _, name := range opts.Names {
		if !slices.ContainsFunc(views, func(v indexView) bool { return v.Name == name }) {
			return &cmdutil.CodedError{Code: cmdutil.ExitNotFound, Err: fmt.Errorf("no added index named %q", name)}
		}
	}
	if opts.Global.JSON() {
		return printJSON(opts.IO.Out, views)
	}
	if len(views) == 0 {
		fmt.Fprintln(opts.IO.Out, "No added indexes to update (the embedded default index ships with ferry)")
	}
	for _, v := range views {
		fmt.Fprintf(opts.IO.Out, "Updated index %q (%s)\n", v.Name, artifactCount(v.Entries))
	}
	return nil
}

// indexLocation checks the URL given to index add and makes a path
// absolute, so that the index is found again from any directory.
func indexLocation(url string) (string, error) {
	if strings.TrimSpace(url) == "" {
		return "", cmdutil.Usage(errors.New("the index URL is empty: give https://..., http://..., file://... or a path"))
	}
	if strings.Contains(url, "://") {
		return url, nil
	}
	abs, err := filepath.Abs(url)
	if err != nil {
		return "", fmt.Errorf("index path %q: %w", url, err)
	}
	return abs, nil
}

// artifactCount is "1 artifact" or "N artifacts".
func artifactCount(n int) string {
	if n == 1 {
		return "1 artifact"
	}
	return fmt.Sprintf("%d artifacts", n)
}
