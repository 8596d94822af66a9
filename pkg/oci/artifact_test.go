package oci_test

import (
	"errors"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ferryhq/ferry/pkg/oci"
)

func TestManifestType(t *testing.T) {
	rulesLayer := ocispec.Descriptor{MediaType: oci.LayerMediaType(oci.TypeRulesfile)}
	rulesCfg := ocispec.Descriptor{MediaType: oci.ConfigMediaType(oci.TypeRulesfile)}
	empty := ocispec.Descriptor{MediaType: ocispec.MediaTypeEmptyJSON}
	cases := []struct {
		name string
		m    ocispec.Manifest
		want string // "" for not an artifact
	}{
		{"falcoctl", ocispec.Manifest{Config: rulesCfg, Layers: []ocispec.Descriptor{rulesLayer}}, oci.TypeRulesfile},
		{"oras empty config with artifact type", ocispec.Manifest{ArtifactType: rulesCfg.MediaType, Config: empty, Layers: []ocispec.Descriptor{rulesLayer}}, oci.TypeRulesfile},
		{"empty config without artifact type", ocispec.Manifest{Config: empty, Layers: []ocispec.Descriptor{rulesLayer}}, oci.TypeRulesfile},
		{"config of another type", ocispec.Manifest{Config: ocispec.Descriptor{MediaType: oci.ConfigMediaType(oci.TypePlugin)}, Layers: []ocispec.Descriptor{rulesLayer}}, ""},
		{"artifact type of another type", ocispec.Manifest{ArtifactType: oci.ConfigMediaType(oci.TypeAsset), Config: empty, Layers: []ocispec.Descriptor{rulesLayer}}, ""},
		{"unknown artifact type", ocispec.Manifest{ArtifactType: "application/vnd.unknown.artifact.v1", Config: empty, Layers: []ocispec.Descriptor{rulesLayer}}, ""},
		{"foreign config", ocispec.Manifest{Config: ocispec.Descriptor{MediaType: "application/vnd.oci.image.config.v1+json"}, Layers: []ocispec.Descriptor{rulesLayer}}, ""},
		{"two layers", ocispec.Manifest{Config: rulesCfg, Layers: []ocispec.Descriptor{rulesLayer, rulesLayer}}, ""},
		{"no layer", ocispec.Manifest{Config: rulesCfg}, ""},
		{"image layer", ocispec.Manifest{Config: rulesCfg, Layers: []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageLayerGzip}}}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			typ, layer, err := oci.ManifestType(c.m)
			if c.want == "" {
				if !errors.Is(err, oci.ErrNotArtifact) {
					t.Errorf("got %q, %v; want ErrNotArtifact", typ, err)
				}
				return
			}
			if err != nil || typ != c.want || layer.MediaType != rulesLayer.MediaType {
				t.Errorf("got %q %v %v, want %q", typ, layer, err, c.want)
			}
		})
	}
}
