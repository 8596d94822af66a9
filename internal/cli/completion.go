package cli

import (
	"context"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/driver"
	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/oci"
)

// completionTimeout bounds the registry requests behind one version
// completion; past it the shell gets no versions rather than a wait.
const completionTimeout = 2 * time.Second

const completionLong = `Print a script that makes your shell complete ferry's commands and flags,
artifact names (from the indexes already fetched: no network) and, after
NAME:, the versions the registry has (one tag listing, given at most 2s; on
a timeout or an error nothing is offered and nothing is printed).

Load it in the current shell, or install it for every new one:
  bash        source <(ferry completion bash)
              ferry completion bash > /etc/bash_completion.d/ferry
  zsh         source <(ferry completion zsh)
              ferry completion zsh > "${fpath[1]}/_ferry"
  fish        ferry completion fish > ~/.config/fish/completions/ferry.fish
  powershell  ferry completion powershell | Out-String | Invoke-Expression

bash needs the bash-completion package; zsh needs "autoload -U compinit;
compinit" in ~/.zshrc.`

// refCompletions maps the commands that take artifact references to how
// many of their arguments are references (0: all of them).
var refCompletions = map[string]int{
	"artifact install": 0,
	"artifact info":    0,
	"artifact lock":    0,
	"artifact bundle":  0,
	"artifact follow":  0,
	"artifact verify":  1,
	"artifact promote": 1,
}

// addCompletions sets up the completion command and wires completions into
// the tree in one place: artifact names and versions for the commands that
// take references, index names, and the values of enumerated flags. A
// command that already has its own completion keeps it.
func addCompletions(root *cobra.Command, f *cmdutil.Factory) {
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		c.Long = completionLong
		c.Example = "  source <(ferry completion bash)\n  ferry completion zsh > \"${fpath[1]}/_ferry\""
		for _, sh := range c.Commands() {
			sh.Example = completionExamples[sh.Name()]
		}
	}
	walk(root, func(c *cobra.Command) {
		path := strings.TrimPrefix(c.CommandPath(), root.Name()+" ")
		if n, ok := refCompletions[path]; ok && c.ValidArgsFunction == nil {
			c.ValidArgsFunction = completeRefs(f, n)
		}
		if (path == "index remove" || path == "index update") && c.ValidArgsFunction == nil {
			c.ValidArgsFunction = completeAddedIndexes(f)
		}
		flagCompletion := func(name string, fn cobra.CompletionFunc) {
			if c.LocalFlags().Lookup(name) != nil {
				if _, has := c.GetFlagCompletionFunc(name); !has {
					_ = c.RegisterFlagCompletionFunc(name, fn)
				}
			}
		}
		if path == "driver" || strings.HasPrefix(path, "driver ") {
			flagCompletion("type", fixedCompletions(string(driver.Kmod), string(driver.EBPF), string(driver.ModernEBPF), "auto"))
		} else {
			flagCompletion("type", fixedCompletions(oci.TypeRulesfile, oci.TypePlugin, oci.TypeAsset))
		}
		flagCompletion("platform", fixedCompletions(platforms()...))
		// The values the key table lists.
		for _, k := range cmdutil.Keys {
			if k.Flag != "" && len(k.Values) > 0 {
				flagCompletion(k.Flag, fixedCompletions(k.Values...))
			}
		}
		flagCompletion("index", completeIndexNames(f))
	})
}

var completionExamples = map[string]string{
	"bash":       "  source <(ferry completion bash)\n  ferry completion bash > /etc/bash_completion.d/ferry",
	"zsh":        "  source <(ferry completion zsh)\n  ferry completion zsh > \"${fpath[1]}/_ferry\"",
	"fish":       "  ferry completion fish | source\n  ferry completion fish > ~/.config/fish/completions/ferry.fish",
	"powershell": "  ferry completion powershell | Out-String | Invoke-Expression",
}

func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}

func fixedCompletions(values ...string) cobra.CompletionFunc {
	return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
}

// platforms are the plugin platforms Falco ships, and the local one.
func platforms() []string {
	out := []string{"linux/amd64", "linux/arm64"}
	if local := runtime.GOOS + "/" + runtime.GOARCH; !slices.Contains(out, local) {
		out = append(out, local)
	}
	return out
}

// completionFactory is a Factory for one completion request. The run's
// Factory may have loaded its config before cobra parsed the flags of the
// command line being completed (--config among them), so completion builds
// its own, after applying the environment and config defaults to the flags
// the user did not set.
func completionFactory(f *cmdutil.Factory, cmd *cobra.Command) *cmdutil.Factory {
	g := &cmdutil.Factory{IO: f.IO, Global: f.Global, Version: f.Version, Getenv: f.Getenv}
	_ = g.ApplyPrecedence(cmd)
	g.Global = f.Global
	return g
}

// completeRefs completes the first n arguments (all when n is 0) as
// artifact references: names from the cached indexes, then after NAME: (or
// HOST/REPO:) the registry's versions.
func completeRefs(f *cmdutil.Factory, n int) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if n > 0 && len(args) >= n {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		g := completionFactory(f, cmd)
		if base, _, ok := cutLast(toComplete, ":"); ok && !strings.Contains(toComplete[len(base):], "/") {
			return filterPrefix(versionCompletions(cmd.Context(), g, base), toComplete), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
		}
		return filterPrefix(nameCompletions(g.CachedIndexes(), toComplete), toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// nameCompletions lists the artifact names that complete toComplete, with
// their type and description: as INDEX/NAME after "INDEX/"; otherwise each
// name a bare NAME reaches, once, and INDEX/NAME for the entries of a name
// that clashes. An entry a bare name does not reach (shadowed by a
// configured index) is offered only after "INDEX/". Only the entries whose
// name has the prefix are read.
func nameCompletions(set *index.Set, toComplete string) []cobra.Completion {
	indexName, prefix, qualified := strings.Cut(toComplete, "/")
	if !qualified {
		indexName, prefix = "", toComplete
	} else if !set.Has(indexName) {
		return nil
	}
	var out []cobra.Completion
	offered := map[string]bool{}
	clash := map[string]bool{}
	for _, fd := range set.ListPrefix(indexName, prefix) {
		name := fd.Name
		if !qualified {
			if _, seen := clash[name]; !seen {
				clash[name] = set.Ambiguous(name) != nil
			}
		}
		switch {
		case qualified || clash[name]:
			name = fd.Index + "/" + name
		case offered[name] || !set.Resolves(fd.Index, name):
			continue
		}
		offered[name] = true
		out = append(out, cobra.CompletionWithDesc(name, strings.TrimSpace(fd.Type+" "+oneLine(fd.Description, 50))))
	}
	return out
}

// versionCompletions lists base:VERSION for the versions base's repository
// has, highest first; for a full OCI reference every tag but cosign's.
// Any failure gives none.
func versionCompletions(ctx context.Context, f *cmdutil.Factory, base string) []cobra.Completion {
	ref, err := index.ParseReference(base)
	if err != nil || ref.IsLayout() || ref.Digest != "" || ref.Tag != "" {
		return nil
	}
	loc := oci.Location{Registry: ref.Registry, Repository: ref.Repository}
	if !ref.IsOCI() {
		e, _, err := f.CachedIndexes().Lookup(ref.Index, ref.Name)
		if err != nil {
			return nil
		}
		loc = oci.Location{Registry: e.Registry, Repository: e.Repository}
	}
	client, err := f.OCIClient()
	if err != nil {
		return nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	tags, err := client.Tags(ctx, loc)
	if err != nil {
		return nil
	}
	var out []cobra.Completion
	seen := map[string]bool{}
	for _, v := range index.Versions(tags) {
		s := v.Version.String()
		if ref.IsOCI() {
			s = v.Tag
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, base+":"+s)
		}
	}
	if ref.IsOCI() {
		for _, t := range tags {
			if !seen[t] && !strings.HasPrefix(t, "sha256-") {
				out = append(out, base+":"+t)
			}
		}
	}
	return out
}

// completeIndexNames completes the names of every index, the embedded one
// included.
func completeIndexNames(f *cmdutil.Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var out []cobra.Completion
		for _, idx := range completionFactory(f, cmd).CachedIndexes().Indexes() {
			out = append(out, idx.Name)
		}
		return filterPrefix(out, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeAddedIndexes completes the names of the indexes in the config
// that are not already on the command line.
func completeAddedIndexes(f *cmdutil.Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		cfg, err := completionFactory(f, cmd).Config()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, ic := range cfg.Indexes {
			if !slices.Contains(args, ic.Name) {
				out = append(out, cobra.CompletionWithDesc(ic.Name, ic.URL))
			}
		}
		return filterPrefix(out, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// filterPrefix keeps the completions (descriptions aside) that start with
// prefix.
func filterPrefix(comps []cobra.Completion, prefix string) []cobra.Completion {
	return slices.DeleteFunc(comps, func(c cobra.Completion) bool {
		value, _, _ := strings.Cut(c, "\t")
		return !strings.HasPrefix(value, prefix)
	})
}

// cutLast is strings.Cut at the last occurrence of sep.
func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}
