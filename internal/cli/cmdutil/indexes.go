package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ferryhq/ferry/internal/fsutil"

	ferry "github.com/ferryhq/ferry"
	ferryhttp "github.com/ferryhq/ferry/internal/http"
	"github.com/ferryhq/ferry/pkg/index"
)

// DefaultIndexName is the name of the embedded index.
const DefaultIndexName = "default"

// maxIndexBytes bounds a fetched index file.
const maxIndexBytes = 32 << 20

// IndexCachePath is where the fetched copy of a named index is kept.
func (f *Factory) IndexCachePath(name string) string {
	return filepath.Join(f.CacheDir(), "indexes", name+".yaml")
}

// FetchIndex fetches and parses the index at url, and caches it as name.
func (f *Factory) FetchIndex(ctx context.Context, name, url string) (*index.Index, error) {
	hc, err := f.HTTPClient()
	if err != nil {
		return nil, err
	}
	data, err := ferryhttp.ReadURL(ctx, hc, url, maxIndexBytes)
	if err != nil {
		return nil, fmt.Errorf("fetching index %q: %w", name, err)
	}
	idx, err := index.Parse(name, data)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", url, err)
	}
	idx.URL = url
	// The cache spares the next run a fetch; where it cannot be written (a
	// read-only root file system in a container) the index is still used.
	path := f.IndexCachePath(name)
	if err := fsutil.WriteFile(path, data, 0o644); err != nil {
		fmt.Fprintf(f.IO.ErrOut, "warning: index %q is used but not cached: %v\n", name, err)
	} else if fi, err := os.Stat(path); err == nil {
		// Best effort: a missing compact form is rebuilt on first use.
		_ = index.SaveCompact(idx, path, fi)
	}
	return idx, nil
}

// Indexes loads every index: the configured ones from their cached copies
// (fetched on first use) in the order they were added, then the embedded
// default unless an index named "default" shadows it.
func (f *Factory) Indexes(ctx context.Context) (*index.Set, error) {
	if f.IndexesFunc != nil {
		return f.IndexesFunc(ctx)
	}
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	var list []*index.Index
	// As falcoctl, configured indexes replace the default one in falcoctl
	// mode.
	shadowed := f.Falcoctl && len(cfg.Indexes) > 0
	for _, ic := range cfg.Indexes {
		idx, err := f.loadCachedIndex(ctx, ic)
		if err != nil {
			return nil, err
		}
		shadowed = shadowed || ic.Name == DefaultIndexName
		list = append(list, idx)
	}
	if !shadowed {
		def, err := index.Parse(DefaultIndexName, ferry.DefaultIndex)
		if err != nil {
			return nil, err
		}
		def.URL = "embedded"
		def.Fallback = true
		list = append(list, def)
	}
	return index.NewSet(list...), nil
}

func (f *Factory) loadCachedIndex(ctx context.Context, ic IndexConfig) (*index.Index, error) {
	idx, err := index.LoadCached(ic.Name, f.IndexCachePath(ic.Name))
	if errors.Is(err, fs.ErrNotExist) {
		return f.FetchIndex(ctx, ic.Name, ic.URL)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s (cached from %s): %w", f.IndexCachePath(ic.Name), ic.URL, err)
	}
	idx.URL = ic.URL
	return idx, nil
}
