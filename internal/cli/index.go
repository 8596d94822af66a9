package cli

import (
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
	cmd.AddCommand(newCmdIndexAdd(f), newCmdIndexList(f), newCmdIndexRemove(f), newCmdIndexUpdate(f))
	return cmd
}

type indexView struct {
	Name    string     `json:"name"`
	URL     string     `json:"url"`
	Entries int        `json:"entries"`
	Updated *time.Time `json:"updated,omitempty"`
}

func newCmdIndexAdd(f *cmdutil.Factory) *cobra.Command {
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
			name, url := args[0], args[1]
			url, err := indexLocation(url)
			if err != nil {
				return err
			}
			if !index.ValidName(name) {
				return cmdutil.Usage(fmt.Errorf("invalid index name %q: use lowercase letters, digits, - and _", name))
			}
			if err := ferryhttp.CheckIndexBackend(url, strings.Join(args[2:], "")); err != nil {
				return cmdutil.Usage(err)
			}
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			if slices.ContainsFunc(cfg.Indexes, func(ic cmdutil.IndexConfig) bool { return ic.Name == name }) {
				return cmdutil.Usage(fmt.Errorf("index %q exists already (remove it first, or run: ferry index update %s)", name, name))
			}
			idx, err := f.FetchIndex(cmd.Context(), name, url)
			if errors.Is(err, index.ErrInvalidIndex) {
				return cmdutil.Usage(err)
			}
			if err != nil {
				return err
			}
			cfg.Indexes = append(cfg.Indexes, cmdutil.IndexConfig{Name: name, URL: url})
			if err := cfg.Save(f.ConfigPath()); err != nil {
				return fmt.Errorf("saving config: %w", err)
			}
			if f.Global.JSON() {
				return f.PrintJSON(indexView{Name: name, URL: url, Entries: idx.Len()})
			}
			fmt.Fprintf(f.IO.Out, "Added index %q (%s) from %s\n", name, artifactCount(idx.Len()), url)
			return nil
		},
	}
}

func newCmdIndexList(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the indexes in use",
		Example: `  ferry index list -o json`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			set, err := f.Indexes(cmd.Context())
			if err != nil {
				return err
			}
			var views []indexView
			for _, idx := range set.Indexes() {
				v := indexView{Name: idx.Name, URL: idx.URL, Entries: idx.Len()}
				if fi, err := os.Stat(f.IndexCachePath(idx.Name)); err == nil && idx.URL != "embedded" {
					t := fi.ModTime().UTC().Truncate(time.Second)
					v.Updated = &t
				}
				views = append(views, v)
			}
			if f.Global.JSON() {
				return f.PrintJSON(views)
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tARTIFACTS\tUPDATED\tURL")
			for _, v := range views {
				updated := "-"
				if v.Updated != nil {
					updated = v.Updated.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", v.Name, v.Entries, updated, v.URL)
			}
			return tw.Flush()
		},
	}
}

func newCmdIndexRemove(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "remove NAME...",
		Short:   "Remove indexes (the embedded default cannot be removed, only shadowed)",
		Example: `  ferry index remove local`,
		Args:    usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			for _, name := range args {
				i := slices.IndexFunc(cfg.Indexes, func(ic cmdutil.IndexConfig) bool { return ic.Name == name })
				if i < 0 {
					if name == cmdutil.DefaultIndexName {
						return cmdutil.Usage(errors.New(`the embedded index "default" cannot be removed; add an index named "default" to shadow it`))
					}
					return &cmdutil.CodedError{Code: cmdutil.ExitNotFound, Err: fmt.Errorf("no index named %q", name)}
				}
				cfg.Indexes = slices.Delete(cfg.Indexes, i, i+1)
			}
			if err := cfg.Save(f.ConfigPath()); err != nil {
				return fmt.Errorf("saving config: %w", err)
			}
			for _, name := range args {
				if err := index.RemoveCached(f.IndexCachePath(name)); err != nil {
					return err
				}
				if !f.Global.JSON() {
					fmt.Fprintf(f.IO.Out, "Removed index %q\n", name)
				}
			}
			if f.Global.JSON() {
				return f.PrintJSON(map[string][]string{"removed": args})
			}
			return nil
		},
	}
}

func newCmdIndexUpdate(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "update [NAME...]",
		Short:   "Fetch indexes again (all added ones by default)",
		Example: `  ferry index update`,
		Args:    usageArgs(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			var views []indexView
			for _, ic := range cfg.Indexes {
				if len(args) > 0 && !slices.Contains(args, ic.Name) {
					continue
				}
				idx, err := f.FetchIndex(cmd.Context(), ic.Name, ic.URL)
				if err != nil {
					return err
				}
				views = append(views, indexView{Name: ic.Name, URL: ic.URL, Entries: idx.Len()})
			}
			for _, name := range args {
				if !slices.ContainsFunc(views, func(v indexView) bool { return v.Name == name }) {
					return &cmdutil.CodedError{Code: cmdutil.ExitNotFound, Err: fmt.Errorf("no added index named %q", name)}
				}
			}
			if f.Global.JSON() {
				return f.PrintJSON(views)
			}
			if len(views) == 0 {
				fmt.Fprintln(f.IO.Out, "No added indexes to update (the embedded default index ships with ferry)")
			}
			for _, v := range views {
				fmt.Fprintf(f.IO.Out, "Updated index %q (%s)\n", v.Name, artifactCount(v.Entries))
			}
			return nil
		},
	}
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
