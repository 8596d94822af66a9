package oci

import (
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Artifact types. The type of an artifact is read from its layer media type.
const (
	TypeRulesfile = "rulesfile"
	TypePlugin    = "plugin"
	TypeAsset     = "asset"
)

// Types lists the artifact types, in the order they are documented.
var Types = []string{TypeRulesfile, TypePlugin, TypeAsset}

const mediaTypePrefix = "application/vnd.cncf.falco."

// ConfigMediaType is the config media type of an artifact type.
func ConfigMediaType(typ string) string { return mediaTypePrefix + typ + ".config.v1+json" }

// LayerMediaType is the layer media type of an artifact type.
func LayerMediaType(typ string) string { return mediaTypePrefix + typ + ".layer.v1+tar.gz" }

// TypeFromLayerMediaType returns the artifact type of a layer media type.
func TypeFromLayerMediaType(mt string) (string, error) {
	for _, t := range Types {
		if mt == LayerMediaType(t) {
			return t, nil
		}
	}
	return "", fmt.Errorf("layer media type %q is not a Falco artifact (%w)", mt, ErrNotArtifact)
}

// typeFromConfigMediaType returns the artifact type of a Falco config media
// type, or "".
func typeFromConfigMediaType(mt string) string {
	for _, t := range Types {
		if mt == ConfigMediaType(t) {
			return t
		}
	}
	return ""
}

// ManifestType is the one media-type rule install and verify share. A
// manifest is a Falco artifact of type T when:
//   - it has exactly one layer, of media type LayerMediaType(T);
//   - its config is ConfigMediaType(T) (as falcoctl and ferry push it) or
//     the OCI empty config (as oras push writes for image-spec 1.1);
//   - its artifactType is unset or ConfigMediaType(T) (what
//     `oras push --artifact-type` is given).
//
// It returns T and the layer, or an error matching ErrNotArtifact that names
// what breaks the rule.
func ManifestType(m ocispec.Manifest) (string, ocispec.Descriptor, error) {
	if len(m.Layers) != 1 {
		return "", ocispec.Descriptor{}, fmt.Errorf("manifest has %d layers, want 1: %w", len(m.Layers), ErrNotArtifact)
	}
	layer := m.Layers[0]
	typ, err := TypeFromLayerMediaType(layer.MediaType)
	if err != nil {
		return "", ocispec.Descriptor{}, err
	}
	if cfg := m.Config.MediaType; cfg != ConfigMediaType(typ) && cfg != ocispec.MediaTypeEmptyJSON {
		if other := typeFromConfigMediaType(cfg); other != "" {
			return "", ocispec.Descriptor{}, fmt.Errorf("config media type %q is a %s's, the layer a %s's: %w", cfg, other, typ, ErrNotArtifact)
		}
		return "", ocispec.Descriptor{}, fmt.Errorf("config media type %q is neither %q nor the empty config %q: %w", cfg, ConfigMediaType(typ), ocispec.MediaTypeEmptyJSON, ErrNotArtifact)
	}
	if at := m.ArtifactType; at != "" && at != ConfigMediaType(typ) {
		if other := typeFromConfigMediaType(at); other != "" {
			return "", ocispec.Descriptor{}, fmt.Errorf("artifactType %q is a %s's, the layer a %s's: %w", at, other, typ, ErrNotArtifact)
		}
		return "", ocispec.Descriptor{}, fmt.Errorf("artifactType %q is not %q: %w", at, ConfigMediaType(typ), ErrNotArtifact)
	}
	return typ, layer, nil
}

// ValidType reports an error for an unknown artifact type.
func ValidType(typ string) error {
	for _, t := range Types {
		if typ == t {
			return nil
		}
	}
	return fmt.Errorf("unknown artifact type %q (want one of %s)", typ, strings.Join(Types, ", "))
}

// Config is the config blob of an artifact, in falcoctl's JSON shape.
type Config struct {
	Name         string        `json:"name,omitempty"`
	Version      string        `json:"version,omitempty"`
	Dependencies []Dependency  `json:"dependencies,omitempty"`
	Requirements []Requirement `json:"requirements,omitempty"`
}

// Dependency is an artifact another one needs: same major, at least Version.
type Dependency struct {
	Name         string        `json:"name"`
	Version      string        `json:"version"`
	Alternatives []Alternative `json:"alternatives,omitempty"`
}

// Alternative satisfies a Dependency in its place.
type Alternative struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Requirement is a capability the consuming engine must offer, such as
// engine_version_semver or plugin_api_version.
type Requirement struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}
