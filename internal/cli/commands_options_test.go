package cli_test

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/cli"
	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/index"
)

// optionCase is one command line of a command built with a runF that
// captures its options: the exit code it must give (0: runF called) and,
// when it parses, the check of what was captured.
type optionCase[O any] struct {
	name   string
	env    map[string]string
	config string
	args   []string
	code   int
	check  func(t *testing.T, o *O)
}

// runOptionCases runs every case through the real command tree (precedence
// applied by the root command, as in a real run) with the command at path
// built by newCmd.
func runOptionCases[O any](t *testing.T, path []string, newCmd func(*cmdutil.Factory, func(*O) error) *cobra.Command, cases []optionCase[O]) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got *O
			code, stderr := parseWith(t, c.env, c.config, path, func(f *cmdutil.Factory) *cobra.Command {
				return newCmd(f, func(o *O) error { got = o; return nil })
			}, c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d: %s", code, c.code, stderr)
			}
			if c.code != 0 {
				if got != nil {
					t.Errorf("runF called for a command line that exits %d", c.code)
				}
				return
			}
			if got == nil {
				t.Fatal("runF not called")
			}
			if c.check != nil {
				c.check(t, got)
			}
		})
	}
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func TestListOptions(t *testing.T) {
	runOptionCases(t, []string{"artifact", "list"}, cli.NewCmdList, []optionCase[cli.ListOptions]{
		{name: "defaults", check: func(t *testing.T, o *cli.ListOptions) {
			eq(t, "type", o.Type, "")
			eq(t, "index", o.Index, "")
			if o.Indexes == nil || o.IO.Out == nil || o.Global == nil {
				t.Error("dependencies not taken from the Factory")
			}
		}},
		{name: "flags", args: []string{"--type", "plugin", "--index", "big", "-o", "json"}, check: func(t *testing.T, o *cli.ListOptions) {
			eq(t, "type", o.Type, "plugin")
			eq(t, "index", o.Index, "big")
			eq(t, "json", o.Global.JSON(), true)
		}},
		{name: "driver is a type to list", args: []string{"--type", "driver"}, check: func(t *testing.T, o *cli.ListOptions) { eq(t, "type", o.Type, "driver") }},
		{name: "type from the environment", env: map[string]string{"FERRY_TYPE": "asset"}, check: func(t *testing.T, o *cli.ListOptions) { eq(t, "type", o.Type, "asset") }},
		{name: "unknown type", args: []string{"--type", "image"}, code: 2},
		{name: "no arguments", args: []string{"extra"}, code: 2},
	})
}

func TestSearchOptions(t *testing.T) {
	runOptionCases(t, []string{"artifact", "search"}, cli.NewCmdSearch, []optionCase[cli.SearchOptions]{
		{name: "defaults", args: []string{"k8s", "audit"}, check: func(t *testing.T, o *cli.SearchOptions) {
			eq(t, "keywords", o.Keywords, []string{"k8s", "audit"})
			eq(t, "min score", o.MinScore, index.DefaultMinScore)
		}},
		{name: "flags", args: []string{"cloudtrail", "--type", "plugin", "--min-score", "0.5"}, check: func(t *testing.T, o *cli.SearchOptions) {
			eq(t, "type", o.Type, "plugin")
			eq(t, "min score", o.MinScore, 0.5)
		}},
		{name: "min score from the config", config: "defaults:\n  min-score: \"0.9\"\n", args: []string{"x"}, check: func(t *testing.T, o *cli.SearchOptions) { eq(t, "min score", o.MinScore, 0.9) }},
		{name: "min score 0", args: []string{"x", "--min-score", "0"}, code: 2},
		{name: "min score above 1", args: []string{"x", "--min-score", "1.5"}, code: 2},
		{name: "no keyword", code: 2},
	})
}

func TestInfoOptions(t *testing.T) {
	runOptionCases(t, []string{"artifact", "info"}, cli.NewCmdInfo, []optionCase[cli.InfoOptions]{
		{name: "defaults", args: []string{"falco-rules:3"}, check: func(t *testing.T, o *cli.InfoOptions) {
			eq(t, "refs", o.Refs, []string{"falco-rules:3"})
			eq(t, "resolve deps", o.ResolveDeps, true)
			if !strings.Contains(o.Platform, "/") {
				t.Errorf("platform %q", o.Platform)
			}
		}},
		{name: "flags", args: []string{"a", "b:1.x", "--platform", "linux/arm64", "--engine-version", "plugin_api_version=3.7.0", "--resolve-deps=false", "--engine-versions-url", "http://127.0.0.1:1/versions"},
			check: func(t *testing.T, o *cli.InfoOptions) {
				eq(t, "refs", o.Refs, []string{"a", "b:1.x"})
				eq(t, "platform", o.Platform, "linux/arm64")
				eq(t, "engine", o.EngineVersions, []string{"plugin_api_version=3.7.0"})
				eq(t, "engine URL", o.EngineVersionsURL, "http://127.0.0.1:1/versions")
				eq(t, "resolve deps", o.ResolveDeps, false)
			}},
		{name: "platform from the environment", env: map[string]string{"FERRY_PLATFORM": "linux/s390x"}, args: []string{"x"}, check: func(t *testing.T, o *cli.InfoOptions) { eq(t, "platform", o.Platform, "linux/s390x") }},
		{name: "bad platform", args: []string{"x", "--platform", "linux"}, code: 2},
		{name: "no reference", code: 2},
	})
}

func TestVerifyOptions(t *testing.T) {
	sum := "sha256:" + strings.Repeat("ab", 32)
	runOptionCases(t, []string{"artifact", "verify"}, cli.NewCmdVerify, []optionCase[cli.VerifyOptions]{
		{name: "defaults", args: []string{"falco-rules:3"}, check: func(t *testing.T, o *cli.VerifyOptions) {
			eq(t, "ref", o.Ref, "falco-rules:3")
			eq(t, "state dir", o.StateDir, "/var/lib/ferry")
			eq(t, "from", o.From, "")
			eq(t, "digest", o.Digest, "")
		}},
		{name: "flags", args: []string{"rules:1.x", "--digest", sum, "--lock-file", "/l.lock", "--state-dir", "/s", "--from", "b.tar"}, check: func(t *testing.T, o *cli.VerifyOptions) {
			eq(t, "digest", o.Digest, sum)
			eq(t, "lock file", o.LockFile, "/l.lock")
			eq(t, "state dir", o.StateDir, "/s")
			eq(t, "from", o.From, "b.tar")
		}},
		{name: "state dir from the config", config: "defaults:\n  state-dir: /cfg\n", args: []string{"x"}, check: func(t *testing.T, o *cli.VerifyOptions) { eq(t, "state dir", o.StateDir, "/cfg") }},
		{name: "bad digest", args: []string{"x", "--digest", "sha256:12"}, code: 2},
		{name: "two references", args: []string{"x", "y"}, code: 2},
	})
}

func TestPromoteOptions(t *testing.T) {
	runOptionCases(t, []string{"artifact", "promote"}, cli.NewCmdPromote, []optionCase[cli.PromoteOptions]{
		{name: "defaults", args: []string{"staging/rules:1.2.3", "ghcr.io/acme/rules"}, check: func(t *testing.T, o *cli.PromoteOptions) {
			eq(t, "src", o.Src, "staging/rules:1.2.3")
			eq(t, "dst", o.Dst, "ghcr.io/acme/rules")
			eq(t, "floating tags", o.FloatingTags, false)
			eq(t, "sinks", o.Sinks, []string(nil))
		}},
		{name: "flags", args: []string{"a:1.x", "b", "--add-floating-tags", "--events-sink", "http://127.0.0.1:2/", "--state-dir", "/s", "--lock-file", "/l"},
			check: func(t *testing.T, o *cli.PromoteOptions) {
				eq(t, "floating tags", o.FloatingTags, true)
				eq(t, "sinks", o.Sinks, []string{"http://127.0.0.1:2/"})
				eq(t, "state dir", o.StateDir, "/s")
				eq(t, "lock file", o.LockFile, "/l")
			}},
		{name: "sinks from the environment", env: map[string]string{"FERRY_EVENTS_SINK": "http://a/,http://b/"}, args: []string{"a", "b"},
			check: func(t *testing.T, o *cli.PromoteOptions) { eq(t, "sinks", o.Sinks, []string{"http://a/", "http://b/"}) }},
		{name: "bad digest", args: []string{"a", "b", "--digest", "nope"}, code: 2},
		{name: "one argument", args: []string{"a"}, code: 2},
	})
}

func TestBundleMirrorLockOptions(t *testing.T) {
	runOptionCases(t, []string{"artifact", "bundle"}, cli.NewCmdBundle, []optionCase[cli.BundleOptions]{
		{name: "flags", args: []string{"falco-rules:3", "k8saudit-rules:0.x", "-O", "b.tar", "--require-signatures", "--platform", "linux/arm64"},
			check: func(t *testing.T, o *cli.BundleOptions) {
				eq(t, "refs", o.Refs, []string{"falco-rules:3", "k8saudit-rules:0.x"})
				eq(t, "output", o.Output, "b.tar")
				eq(t, "require signatures", o.RequireSignatures, true)
				eq(t, "platform", o.Platform, "linux/arm64")
			}},
		{name: "no -O", args: []string{"x"}, code: 2},
	})
	runOptionCases(t, []string{"artifact", "mirror"}, cli.NewCmdMirror, []optionCase[cli.MirrorOptions]{
		{name: "defaults", args: []string{"x", "-O", "/srv/m"}, check: func(t *testing.T, o *cli.MirrorOptions) {
			eq(t, "dir", o.Dir, "/srv/m")
			eq(t, "template", o.Template, "{name}-{version}.{ext}")
			if !strings.Contains(o.PluginTemplate, "{os}") {
				t.Errorf("plugin template %q", o.PluginTemplate)
			}
		}},
		{name: "templates", args: []string{"x", "y", "--output-dir", "d", "--template", "{name}/{version}.{ext}", "--plugin-template", "p/{name}-{arch}.{ext}"},
			check: func(t *testing.T, o *cli.MirrorOptions) {
				eq(t, "refs", o.Refs, []string{"x", "y"})
				eq(t, "template", o.Template, "{name}/{version}.{ext}")
				eq(t, "plugin template", o.PluginTemplate, "p/{name}-{arch}.{ext}")
			}},
		{name: "no -O", args: []string{"x"}, code: 2},
		{name: "no reference", args: []string{"-O", "d"}, code: 2},
	})
	runOptionCases(t, []string{"artifact", "lock"}, cli.NewCmdLock, []optionCase[cli.LockOptions]{
		{name: "flags", args: []string{"a:1", "--lock-file", "f.lock", "--state-dir", "/s"}, check: func(t *testing.T, o *cli.LockOptions) {
			eq(t, "refs", o.Refs, []string{"a:1"})
			eq(t, "lock file", o.LockFile, "f.lock")
			eq(t, "state dir", o.StateDir, "/s")
		}},
		{name: "no reference", code: 2},
	})
}

func TestRegistryOptions(t *testing.T) {
	runOptionCases(t, []string{"registry", "login"}, cli.NewCmdLogin, []optionCase[cli.LoginOptions]{
		{name: "password flag", args: []string{"127.0.0.1:5000", "-u", "admin", "-p", "secret"}, check: func(t *testing.T, o *cli.LoginOptions) {
			eq(t, "host", o.Host, "127.0.0.1:5000")
			eq(t, "user", o.Username, "admin")
			eq(t, "password", o.Password, "secret")
			if o.Credentials == nil || o.OCIClient == nil {
				t.Error("dependencies not taken from the Factory")
			}
		}},
		{name: "no user", args: []string{"h", "-p", "x"}, code: 2},
		{name: "both passwords", args: []string{"h", "-u", "u", "-p", "x", "--password-stdin"}, code: 2},
		{name: "no password", args: []string{"h", "-u", "u"}, code: 2},
	})
	runOptionCases(t, []string{"registry", "auth", "basic"}, cli.NewCmdAuthBasic, []optionCase[cli.AuthBasicOptions]{
		{name: "a reference names its registry", args: []string{"localhost:5000/falco/rules:1", "-u", "admin", "--password-stdin"}, check: func(t *testing.T, o *cli.AuthBasicOptions) {
			eq(t, "host", o.Host, "localhost:5000")
			eq(t, "user", o.Username, "admin")
			eq(t, "password stdin", o.PasswordStdin, true)
		}},
		{name: "both passwords", args: []string{"h", "-p", "x", "--password-stdin"}, code: 2},
	})
	runOptionCases(t, []string{"registry", "auth", "oauth"}, cli.NewCmdAuthOAuth, []optionCase[cli.AuthOAuthOptions]{
		{name: "flags", args: []string{"registry.internal:5000", "--token-url", "https://auth/token", "--client-id", "falco", "--client-secret", "s", "--scopes", "registry:pull,registry:push"},
			check: func(t *testing.T, o *cli.AuthOAuthOptions) {
				eq(t, "host", o.Host, "registry.internal:5000")
				eq(t, "token URL", o.TokenURL, "https://auth/token")
				eq(t, "client", o.ClientID+"/"+o.ClientSecret, "falco/s")
				eq(t, "scopes", o.Scopes, []string{"registry:pull", "registry:push"})
				if o.ClientCredentialsPath == nil || !strings.HasSuffix(o.ClientCredentialsPath(), filepath.Join("falcoctl", "clientcredentials.json")) {
					t.Error("ClientCredentialsPath not taken from the Factory")
				}
			}},
		{name: "no token URL", args: []string{"h", "--client-id", "a", "--client-secret", "b"}, code: 2},
		{name: "token URL not http", args: []string{"h", "--token-url", "ftp://x", "--client-id", "a", "--client-secret", "b"}, code: 2},
	})
	runOptionCases(t, []string{"registry", "auth", "gcp"}, cli.NewCmdAuthGCP, []optionCase[cli.AuthGCPOptions]{
		{name: "host", args: []string{"europe-docker.pkg.dev/p/r"}, check: func(t *testing.T, o *cli.AuthGCPOptions) { eq(t, "host", o.Host, "europe-docker.pkg.dev") }},
		{name: "no host", code: 2},
	})
	runOptionCases(t, []string{"registry", "pull"}, cli.NewCmdRegistryPull, []optionCase[cli.PullOptions]{
		{name: "dest dir", args: []string{"localhost:5000/p:latest", "--dest-dir", "d", "--platform", "linux/arm64"}, check: func(t *testing.T, o *cli.PullOptions) {
			eq(t, "ref", o.Ref, "localhost:5000/p:latest")
			eq(t, "dest dir", o.DestDir, "d")
			eq(t, "platform", o.Platform, "linux/arm64")
			eq(t, "json", o.Global.JSON(), false)
		}},
		{name: "-o DIR is the dest dir", args: []string{"r", "-o", "/tmp/rules"}, check: func(t *testing.T, o *cli.PullOptions) {
			eq(t, "dest dir", o.DestDir, "/tmp/rules")
			eq(t, "json", o.Global.JSON(), false)
		}},
		{name: "-o json is the format", args: []string{"r", "-o", "json"}, check: func(t *testing.T, o *cli.PullOptions) {
			eq(t, "dest dir", o.DestDir, "")
			eq(t, "json", o.Global.JSON(), true)
		}},
		{name: "bad platform", args: []string{"r", "--platform", "x/y/z"}, code: 2},
	})
	runOptionCases(t, []string{"registry", "push"}, cli.NewCmdRegistryPush, []optionCase[cli.PushOptions]{
		{name: "the tag of REF is another tag", args: []string{"localhost:5000/myrules:latest", "r.yaml", "--type", "rulesfile", "--version", "0.1.2"},
			check: func(t *testing.T, o *cli.PushOptions) {
				eq(t, "ref", o.Ref, "localhost:5000/myrules")
				eq(t, "files", o.Files, []string{"r.yaml"})
				eq(t, "version", o.Version, "0.1.2")
				eq(t, "extra tags", o.ExtraTags, []string{"latest"})
				eq(t, "latest", o.Latest, false)
			}},
		{name: "no tag tags latest", args: []string{"localhost:5000/myrules", "r.yaml", "--type", "rulesfile", "--version", "0.1.2", "-r", "engine_version_semver:0.31.0", "-d", "p:1.2.3"},
			check: func(t *testing.T, o *cli.PushOptions) {
				eq(t, "latest", o.Latest, true)
				eq(t, "requires", o.Requires, []string{"engine_version_semver:0.31.0"})
				eq(t, "depends on", o.DependsOn, []string{"p:1.2.3"})
			}},
		{name: "a --tag does not tag latest", args: []string{"localhost:5000/myrules", "r.yaml", "--version", "0.1.2", "-t", "stable"},
			check: func(t *testing.T, o *cli.PushOptions) {
				eq(t, "latest", o.Latest, false)
				eq(t, "extra tags", o.ExtraTags, []string{"stable"})
			}},
		{name: "no version", args: []string{"localhost:5000/myrules", "r.yaml"}, code: 2},
		{name: "a digest", args: []string{"localhost:5000/myrules@sha256:" + strings.Repeat("ab", 32), "r.yaml", "--version", "1.0.0"}, code: 2},
	})
}

func TestIndexAddOptions(t *testing.T) {
	abs, err := filepath.Abs("index.yaml")
	if err != nil {
		t.Fatal(err)
	}
	runOptionCases(t, []string{"index", "add"}, cli.NewCmdIndexAdd, []optionCase[cli.IndexAddOptions]{
		{name: "URL", args: []string{"falcosecurity", "https://falcosecurity.github.io/falcoctl/index.yaml"}, check: func(t *testing.T, o *cli.IndexAddOptions) {
			eq(t, "name", o.Name, "falcosecurity")
			eq(t, "url", o.URL, "https://falcosecurity.github.io/falcoctl/index.yaml")
			if o.FetchIndex == nil || o.ConfigPath == nil || o.ConfigFile == nil {
				t.Error("dependencies not taken from the Factory")
			}
		}},
		{name: "a path is made absolute", args: []string{"local", "index.yaml"}, check: func(t *testing.T, o *cli.IndexAddOptions) { eq(t, "url", o.URL, abs) }},
		{name: "falcoctl's backend", args: []string{"local", "file:///srv/index.yaml", "file"}, check: func(t *testing.T, o *cli.IndexAddOptions) { eq(t, "backend", o.Backend, "file") }},
		{name: "backend that does not fit", args: []string{"local", "https://x/index.yaml", "file"}, code: 2},
		{name: "bad name", args: []string{"Bad Name", "https://x/index.yaml"}, code: 2},
		{name: "empty URL", args: []string{"x", " "}, code: 2},
		{name: "one argument", args: []string{"x"}, code: 2},
	})
}

func TestEventsAndConfigOptions(t *testing.T) {
	runOptionCases(t, []string{"events", "flush"}, cli.NewCmdEventsFlush, []optionCase[cli.EventsFlushOptions]{
		{name: "flags", args: []string{"--state-dir", "/s", "--events-sink", "http://a/", "--events-timeout", "2s"}, check: func(t *testing.T, o *cli.EventsFlushOptions) {
			eq(t, "state dir", o.StateDir, "/s")
			eq(t, "sinks", o.Sinks, []string{"http://a/"})
			eq(t, "timeout", o.Timeout.String(), "2s")
		}},
		{name: "empty state dir", args: []string{"--state-dir", " "}, code: 2},
	})
	runOptionCases(t, []string{"config", "set"}, cli.NewCmdConfigSet, []optionCase[cli.ConfigSetOptions]{
		{name: "key and value", args: []string{"defaults.state-dir", "/s"}, check: func(t *testing.T, o *cli.ConfigSetOptions) {
			eq(t, "key", o.Key, "defaults.state-dir")
			if o.Value == nil || *o.Value != "/s" {
				t.Errorf("value %v", o.Value)
			}
			if fl := o.LookupFlag("state-dir"); fl == nil || fl.DefValue != "/var/lib/ferry" {
				t.Errorf("LookupFlag(state-dir) = %v", fl)
			}
		}},
		{name: "no value", args: []string{"defaults.state-dir"}, code: 2},
	})
	runOptionCases(t, []string{"config", "unset"}, cli.NewCmdConfigUnset, []optionCase[cli.ConfigSetOptions]{
		{name: "key", args: []string{"events.timeout"}, check: func(t *testing.T, o *cli.ConfigSetOptions) {
			eq(t, "key", o.Key, "events.timeout")
			if o.Value != nil {
				t.Errorf("unset has a value %q", *o.Value)
			}
		}},
	})
	runOptionCases(t, []string{"config", "view"}, cli.NewCmdConfigView, []optionCase[cli.ConfigViewOptions]{
		{name: "yaml", args: []string{"-o", "yaml"}, check: func(t *testing.T, o *cli.ConfigViewOptions) {
			eq(t, "output", o.Output, "yaml")
			eq(t, "path", o.Path, "config view")
			if len(o.Flags) < 20 {
				t.Errorf("%d flags of the command tree", len(o.Flags))
			}
		}},
		{name: "bad output", args: []string{"-o", "xml"}, code: 2},
	})
}
