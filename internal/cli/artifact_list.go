package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"iter"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/index"
)

// entryView is the stable JSON shape of an index entry (artifact list,
// artifact search; docs/json.md).
type entryView struct {
	Name        string   `json:"name"`
	Index       string   `json:"index"`
	Type        string   `json:"type"`
	Registry    string   `json:"registry"`
	Repository  string   `json:"repository"`
	Description string   `json:"description,omitempty"`
	Home        string   `json:"home,omitempty"`
	Keywords    []string `json:"keywords,omitempty"`
	License     string   `json:"license,omitempty"`
	Source      string   `json:"source,omitempty"`
	Signed      bool     `json:"signed"`
}

func newEntryView(e index.Entry, idx string) entryView {
	return entryView{
		Name: e.Name, Index: idx, Type: e.Type, Registry: e.Registry, Repository: e.Repository,
		Description: e.Description, Home: e.Home, Keywords: e.Keywords, License: e.License,
		Source: e.Source, Signed: e.Signature != nil,
	}
}

// appendJSON writes the view as json.MarshalIndent(v, "  ", "  ") does.
func (v *entryView) appendJSON(b []byte) []byte {
	o := newJSONObject(b, 1)
	v.appendFields(o)
	return o.end()
}

func (v *entryView) appendFields(o *jsonObject) {
	o.str("name", v.Name)
	o.str("index", v.Index)
	o.str("type", v.Type)
	o.str("registry", v.Registry)
	o.str("repository", v.Repository)
	o.strOmit("description", v.Description)
	o.strOmit("home", v.Home)
	o.strsOmit("keywords", v.Keywords)
	o.strOmit("license", v.License)
	o.strOmit("source", v.Source)
	o.boolean("signed", v.Signed)
}

// ListOptions are the dependencies and flag values of artifact list.
type ListOptions struct {
	commandDeps
	typeFilterOptions
	Index string
	// Falcoctl prints falcoctl's columns.
	Falcoctl bool
}

// NewCmdList builds artifact list. runF, when not nil, receives the
// parsed and validated options instead of listRun (tests use it).
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{commandDeps: newCommandDeps(f)}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the artifacts the indexes name",
		Example: `  ferry artifact list --type plugin
  ferry artifact list --index default -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.IO, opts.Falcoctl = f.IO, f.Falcoctl
			if err := opts.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	opts.typeFilterOptions.AddFlags(cmd)
	cmd.Flags().StringVar(&opts.Index, "index", "", "only artifacts of this index")
	return cmd
}

func listRun(ctx context.Context, opts *ListOptions) error {
	set, err := opts.Indexes(ctx)
	if err != nil {
		return err
	}
	if opts.Index != "" && !set.Has(opts.Index) {
		return &cmdutil.CodedError{Code: cmdutil.ExitNotFound, Err: fmt.Errorf("no index named %q", opts.Index)}
	}
	l := set.Listing(opts.Type, opts.Index)
	return printEntrySeq(opts.IO.Out, opts.Global.JSON(), opts.Falcoctl, func(yield func(index.Found) bool) { l.Each(yield) })
}

// printEntrySeq prints the entries entries yields (it may be walked twice),
// one at a time: a listing of a big index is never held in memory as views
// or as a table.
func printEntrySeq(out io.Writer, asJSON, falcoctl bool, entries iter.Seq[index.Found]) error {
	if asJSON {
		return writeJSONRows(out, func(yield func(*entryView) bool) {
			var v entryView
			for fd := range entries {
				v = newEntryView(fd.Entry, fd.Index)
				if !yield(&v) {
					return
				}
			}
		})
	}
	if falcoctl {
		// falcoctl's columns.
		return writeTable(out, []string{"INDEX", "ARTIFACT", "TYPE", "REGISTRY", "REPOSITORY"}, func(yield func([]string) bool) {
			row := make([]string, 5)
			for fd := range entries {
				row[0], row[1], row[2], row[3], row[4] = fd.Index, fd.Name, fd.Type, fd.Registry, fd.Repository
				if !yield(row) {
					return
				}
			}
		})
	}
	return writeTableRows(out, []string{"INDEX", "NAME", "TYPE", "REPOSITORY", "DESCRIPTION"}, func(measuring bool) iter.Seq[[]string] {
		return func(yield func([]string) bool) {
			row := make([]string, 5)
			for fd := range entries {
				row[0], row[1], row[2], row[3] = fd.Index, fd.Name, fd.Type, fd.Registry+"/"+fd.Repository
				// The last column is not padded: its width is not needed.
				if row[4] = ""; !measuring {
					row[4] = oneLine(fd.Description, 60)
				}
				if !yield(row) {
					return
				}
			}
		}
	})
}

// writeTable writes header and rows as a text/tabwriter table with padding
// 2 would (the last column not padded), walking rows twice (column widths,
// then the lines) so that no copy of the table is buffered. A row's slice
// may be reused by the next.
func writeTable(out io.Writer, header []string, rows iter.Seq[[]string]) error {
	return writeTableRows(out, header, func(bool) iter.Seq[[]string] { return rows })
}

// writeTableRows is writeTable with rows told whether they are walked to
// measure the columns (their last cell is then not read).
func writeTableRows(out io.Writer, header []string, rows func(measuring bool) iter.Seq[[]string]) error {
	widths := make([]int, len(header))
	measure := func(cells []string) {
		for c, cell := range cells[:len(cells)-1] {
			widths[c] = max(widths[c], utf8.RuneCountInString(cell))
		}
	}
	measure(header)
	for r := range rows(true) {
		measure(r)
	}
	w := bufio.NewWriterSize(out, 64<<10)
	line := func(cells []string) {
		for c, cell := range cells[:len(cells)-1] {
			w.WriteString(cell)
			pad(w, widths[c]-utf8.RuneCountInString(cell)+2)
		}
		w.WriteString(cells[len(cells)-1])
		w.WriteByte('\n')
	}
	line(header)
	for r := range rows(false) {
		line(r)
	}
	return w.Flush()
}

// pad writes n spaces.
func pad(w *bufio.Writer, n int) {
	const blanks = "                                                                "
	for n > len(blanks) {
		w.WriteString(blanks)
		n -= len(blanks)
	}
	w.WriteString(blanks[:n])
}

func oneLine(s string, max int) string {
	if !isOneLine(s) {
		s = strings.Join(strings.Fields(s), " ")
	}
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	cut := 0
	for range max - 1 {
		_, size := utf8.DecodeRuneInString(s[cut:])
		cut += size
	}
	return s[:cut] + "…"
}

// isOneLine reports whether s is already what oneLine's normalization
// makes of it: no leading, trailing or repeated spaces, no other white
// space. (A listing of a big index calls oneLine for every entry.)
func isOneLine(s string) bool {
	prevSpace := true
	i := 0
	// ASCII first, byte by byte; the rest rune by rune.
	for ; i < len(s) && s[i] < utf8.RuneSelf; i++ {
		switch s[i] {
		case ' ':
			if prevSpace {
				return false
			}
			prevSpace = true
		case '\t', '\n', '\v', '\f', '\r':
			return false
		default:
			prevSpace = false
		}
	}
	for _, r := range s[i:] {
		switch {
		case r == ' ':
			if prevSpace {
				return false
			}
			prevSpace = true
		case unicode.IsSpace(r):
			return false
		default:
			prevSpace = false
		}
	}
	return !prevSpace || s == ""
}

// SearchOptions are the dependencies and flag values of artifact search.
type SearchOptions struct {
	commandDeps
	typeFilterOptions
	Keywords []string
	MinScore float64
	Falcoctl bool
}

// searchView is an entryView with the score a search gave it.
type searchView struct {
	entryView
	Score float64 `json:"score"`
}

// NewCmdSearch builds artifact search. runF, when not nil, receives the
// parsed and validated options instead of searchRun (tests use it).
func NewCmdSearch(f *cmdutil.Factory, runF func(*SearchOptions) error) *cobra.Command {
	opts := &SearchOptions{commandDeps: newCommandDeps(f)}
	cmd := &cobra.Command{
		Use:   "search KEYWORD...",
		Short: "Search artifacts by name (fuzzily), keyword and description; any keyword matches",
		Long: `Search artifacts by name, keyword and description. An artifact matches when any
KEYWORD is close enough to its name (the score, 1 minus the edit distance over the
longer length, is at least --min-score, so a typo still finds it), or appears in its
name, keywords or description. The best scores come first.`,
		Example: `  ferry artifact search k8s audit
  ferry artifact search cloudtrailz
  ferry artifact search cloudtrail --type plugin -o json`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Falcoctl, opts.Keywords = f.IO, f.Falcoctl, args
			if err := opts.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return searchRun(cmd.Context(), opts)
		},
	}
	opts.typeFilterOptions.AddFlags(cmd)
	cmd.Flags().Float64Var(&opts.MinScore, "min-score", index.DefaultMinScore, "the name similarity, within (0,1], from which a keyword matches a name")
	return cmd
}

// Validate checks the flag values before any index is read.
func (o *SearchOptions) Validate() error {
	if err := o.typeFilterOptions.Validate(); err != nil {
		return err
	}
	if !(o.MinScore > 0 && o.MinScore <= 1) {
		return cmdutil.Usage(fmt.Errorf("--min-score must be within (0,1], not %v", o.MinScore))
	}
	return nil
}

func searchRun(ctx context.Context, opts *SearchOptions) error {
	set, err := opts.Indexes(ctx)
	if err != nil {
		return err
	}
	hits := set.Search(opts.Keywords, opts.Type, opts.MinScore)
	if opts.Global.JSON() {
		views := make([]searchView, 0, len(hits))
		for _, h := range hits {
			views = append(views, searchView{newEntryView(h.Entry, h.Index), math.Round(h.Score*1000) / 1000})
		}
		return printJSON(opts.IO.Out, views)
	}
	if len(hits) == 0 {
		return &cmdutil.CodedError{Code: cmdutil.ExitNotFound, Err: fmt.Errorf("no artifact matches %q", strings.Join(opts.Keywords, " "))}
	}
	return printEntrySeq(opts.IO.Out, false, opts.Falcoctl, func(yield func(index.Found) bool) {
		for _, h := range hits {
			if !yield(h.Found) {
				return
			}
		}
	})
}
