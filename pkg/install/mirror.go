package install

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ferryhq/ferry/internal/fsutil"
	"github.com/ferryhq/ferry/internal/http/mirror"
	"github.com/ferryhq/ferry/pkg/oci"
)

// Default file name templates of ferry artifact mirror: download.falco.org's
// names.
const (
	MirrorTemplate       = "{name}-{version}.{ext}"
	MirrorPluginTemplate = "{name}-{version}-{os}-{machine}.{ext}"
)

// MirrorFile is one file written to an HTTP mirror directory.
type MirrorFile struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Platform string `json:"platform,omitempty"`
	Path     string `json:"path"` // relative to the mirror directory, with /
	Digest   string `json:"digest"`
	Size     int64  `json:"size"`
}

// Mirror writes the layer of every plan item (of a plugin, every platform
// its image index lists) into dir as a plain file named by the template
// tmplFor gives for its type, and rewrites the SHA256SUMS of every directory it wrote to, keeping the
// entries already there. Served by any static file server, dir is an HTTP
// mirror whose URL template is the base URL joined with the same template.
// A file already present with the right digest is not written again.
func (p *Planner) Mirror(ctx context.Context, plan *Plan, dir string, tmplFor func(typ string) string) ([]MirrorFile, error) {
	var out []MirrorFile
	sums := map[string]map[string]string{} // directory → file → digest
	for _, it := range plan.Items {
		if it.http != nil {
			return nil, fmt.Errorf("mirroring %s %s: only HTTP mirrors answered, and a mirror is made from a registry", it.Name, it.Version)
		}
		art, err := p.artifact(ctx, it.root, it.channels)
		platforms := []string{""}
		if it.root.IsIndex() {
			var pe *oci.PlatformError
			switch {
			case errors.As(err, &pe):
				platforms = pe.Have
			case err != nil:
				return nil, fmt.Errorf("mirroring %s %s: %w", it.Name, it.Version, err)
			default:
				platforms = art.Platforms
			}
		} else if err != nil {
			return nil, fmt.Errorf("mirroring %s %s: %w", it.Name, it.Version, err)
		}
		for _, platform := range platforms {
			a := art
			if a == nil || a.Platform != platform {
				if a, err = onChannels(ctx, append([]Channel{{Location: it.root.Location}}, it.channels...), "resolving "+it.Name, func(loc oci.Location) (*oci.Artifact, error) {
					on := *it.root
					on.Location = loc
					return p.Resolver.Client.Resolve(ctx, &on, platform)
				}); err != nil {
					return nil, fmt.Errorf("mirroring %s %s (%s): %w", it.Name, it.Version, platform, err)
				}
			}
			rel := expandURL(tmplFor(a.Type), it.Name, it.Version, platform)
			if !filepath.IsLocal(filepath.FromSlash(rel)) || strings.HasSuffix(rel, "/") {
				return nil, fmt.Errorf("mirroring %s: the template gives %q, not a file inside the mirror", it.Name, rel)
			}
			target := filepath.Join(dir, filepath.FromSlash(rel))
			if err := p.mirrorLayer(ctx, it, a, target); err != nil {
				return nil, fmt.Errorf("mirroring %s %s: %w", it.Name, it.Version, err)
			}
			d := path.Dir(rel)
			if sums[d] == nil {
				sums[d] = map[string]string{}
			}
			sums[d][path.Base(rel)] = a.Layer.Digest.String()
			out = append(out, MirrorFile{Name: it.Name, Version: it.Version, Platform: platform, Path: rel, Digest: a.Layer.Digest.String(), Size: a.Layer.Size})
		}
	}
	for d, files := range sums {
		if err := mergeSums(filepath.Join(dir, filepath.FromSlash(d), SumsFile), files); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// mirrorLayer writes a's layer to target, verified, unless it is there
// already with the right digest.
func (p *Planner) mirrorLayer(ctx context.Context, it PlanItem, a *oci.Artifact, target string) error {
	if data, err := os.ReadFile(target + ".sha256"); err == nil && strings.HasPrefix(string(data), a.Layer.Digest.Encoded()) {
		if fi, err := os.Stat(target); err == nil && fi.Size() == a.Layer.Size {
			return nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	_, err := onChannels(ctx, append([]Channel{{Location: a.Location}}, it.channels...), "downloading "+it.Name, func(loc oci.Location) (struct{}, error) {
		blob, err := p.Resolver.Client.OpenBlob(ctx, loc, a.Layer)
		if err != nil {
			return struct{}{}, err
		}
		defer blob.Close()
		return struct{}{}, fsutil.ReplaceFile(target, 0o644, func(w io.Writer) error {
			if _, err := io.Copy(w, blob); err != nil {
				return err
			}
			return blob.Verify()
		})
	})
	if err != nil {
		return err
	}
	// The sidecar too, for clients that look for FILE.sha256.
	return fsutil.WriteFile(target+".sha256", []byte(a.Layer.Digest.Encoded()+"  "+filepath.Base(target)+"\n"), 0o644)
}

// mergeSums rewrites a SHA256SUMS file with files added to what it lists.
func mergeSums(file string, files map[string]string) error {
	all := map[string]string{}
	if data, err := os.ReadFile(file); err == nil {
		if all, err = mirror.ParseSums(data); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	maps.Copy(all, files)
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(all)) {
		fmt.Fprintf(&b, "%s  %s\n", strings.TrimPrefix(all[name], "sha256:"), name)
	}
	return fsutil.WriteFile(file, []byte(b.String()), 0o644)
}
