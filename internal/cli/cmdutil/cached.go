package cmdutil

import (
	ferry "github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/pkg/index"
)

// CachedIndexes is Indexes without the network: configured indexes come
// from their cached copies only, and one that was never fetched or does not
// parse is left out. Shell completion uses it, so it never fails.
func (f *Factory) CachedIndexes() *index.Set {
	var list []*index.Index
	shadowed := false
	if cfg, err := f.Config(); err == nil {
		shadowed = f.Falcoctl && len(cfg.Indexes) > 0
		for _, ic := range cfg.Indexes {
			shadowed = shadowed || ic.Name == DefaultIndexName
			if idx, err := index.LoadCached(ic.Name, f.IndexCachePath(ic.Name)); err == nil {
				list = append(list, idx)
			}
		}
	}
	if !shadowed {
		if def, err := index.Parse(DefaultIndexName, ferry.DefaultIndex); err == nil {
			def.Fallback = true
			list = append(list, def)
		}
	}
	return index.NewSet(list...)
}
