package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/ferryhq/ferry/internal/fsutil"
	"github.com/ferryhq/ferry/pkg/oci"
)

// ClientCredentialsPath is falcoctl's store of OAuth2 client credentials,
// ~/.config/falcoctl/clientcredentials.json (falcoctl does not follow
// XDG_CONFIG_HOME here, so neither does ferry: both share the file).
func (f *Factory) ClientCredentialsPath() string {
	home := f.Getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".config", "falcoctl", "clientcredentials.json")
}

// RegistryCredential is the credential source tried after the docker
// credential store: OAuth2 client credentials (registry auth oauth), then
// Google's Application Default Credentials for the registries registered
// with registry auth gcp. Both are read on the first request that needs
// credentials, so a command that reaches no registry reads neither.
func (f *Factory) RegistryCredential() auth.CredentialFunc {
	var once sync.Once
	var src auth.CredentialFunc
	var srcErr error
	return func(ctx context.Context, host string) (auth.Credential, error) {
		once.Do(func() {
			hc, err := f.HTTPClient()
			if err != nil {
				srcErr = err
				return
			}
			creds, err := oci.ReadClientCredentials(f.ClientCredentialsPath())
			if err != nil {
				srcErr = err
				return
			}
			gcp, err := f.GCPRegistries()
			if err != nil {
				srcErr = err
				return
			}
			// The config file's registry.auth.oauth and .gcp count too,
			// after what registry auth stored.
			if cfg, err := f.Config(); err == nil {
				if a, err := cfg.Auth(); err == nil {
					for _, o := range a.OAuth {
						if _, ok := creds[o.Registry]; !ok && o.Registry != "" {
							creds[o.Registry] = oci.ClientCredentials{ClientID: o.ClientID, ClientSecret: o.ClientSecret, TokenURL: o.TokenURL}
						}
					}
					for _, g := range a.GCP {
						if g.Registry != "" && !slices.Contains(gcp, g.Registry) {
							gcp = append(gcp, g.Registry)
						}
					}
				}
			}
			src = oci.ChainCredentials(oci.OAuthCredentials(hc, creds), oci.GCPCredentials(hc, gcp))
		})
		if srcErr != nil {
			return auth.EmptyCredential, srcErr
		}
		return src(ctx, host)
	}
}

// gcpKey is falcoctl's config key of the registries that use Google's
// Application Default Credentials: registry.auth.gcp: [{registry: HOST}].
var gcpKey = []string{"registry", "auth", "gcp"}

// GCPRegistries lists the registries of the config file's
// registry.auth.gcp (keys matched case-insensitively, as viper does; the
// value may also be falcoctl's "host;host" string form).
func (f *Factory) GCPRegistries() ([]string, error) {
	doc, err := readYAMLDoc(f.ConfigPath())
	if err != nil {
		return nil, err
	}
	node := lookupPath(doc, gcpKey)
	if node == nil {
		return nil, nil
	}
	var hosts []string
	switch node.Kind {
	case yaml.ScalarNode:
		for _, h := range strings.Split(node.Value, ";") {
			if h = strings.TrimSpace(h); h != "" {
				hosts = append(hosts, h)
			}
		}
	case yaml.SequenceNode:
		for _, item := range node.Content {
			if v := lookupPath(item, []string{"registry"}); v != nil && v.Kind == yaml.ScalarNode && v.Value != "" {
				hosts = append(hosts, v.Value)
			}
		}
	default:
		return nil, fmt.Errorf("config %s: registry.auth.gcp must be a list of {registry: HOST}", f.ConfigPath())
	}
	return hosts, nil
}

// AddGCPRegistry adds host to the config file's registry.auth.gcp, as
// falcoctl's registry auth gcp does, keeping the rest of the file.
func (f *Factory) AddGCPRegistry(host string) error {
	hosts, err := f.GCPRegistries()
	if err != nil {
		return err
	}
	if slices.Contains(hosts, host) {
		return nil
	}
	path := f.ConfigPath()
	doc, err := readYAMLDoc(path)
	if err != nil {
		return err
	}
	if doc == nil {
		doc = &yaml.Node{Kind: yaml.MappingNode}
	}
	node := doc
	for _, key := range gcpKey {
		next := lookupPath(node, []string{key})
		if next == nil {
			kind := yaml.MappingNode
			if key == "gcp" {
				kind = yaml.SequenceNode
			}
			next = &yaml.Node{Kind: kind}
			node.Content = append(node.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, next)
		}
		node = next
	}
	if node.Kind == yaml.ScalarNode { // the "a;b" form becomes a list
		*node = yaml.Node{Kind: yaml.SequenceNode}
		for _, h := range hosts {
			node.Content = append(node.Content, registryEntry(h))
		}
	}
	node.Content = append(node.Content, registryEntry(host))
	data, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	return fsutil.WriteFile(path, data, 0o644)
}

func registryEntry(host string) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Value: "registry"}, {Kind: yaml.ScalarNode, Value: host},
	}}
}

// readYAMLDoc returns the top mapping of a YAML file (nil when the file is
// missing or empty).
func readYAMLDoc(path string) (*yaml.Node, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config %s: not a mapping", path)
	}
	return top, nil
}

// lookupPath follows mapping keys, case-insensitively.
func lookupPath(node *yaml.Node, keys []string) *yaml.Node {
	for _, key := range keys {
		if node == nil || node.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(node.Content); i += 2 {
			if strings.EqualFold(node.Content[i].Value, key) {
				next = node.Content[i+1]
			}
		}
		node = next
	}
	return node
}
