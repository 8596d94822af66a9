package oci

import (
	"fmt"
	"strings"
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
