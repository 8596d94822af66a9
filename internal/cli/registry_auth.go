package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/oci"
)

// registry auth basic|oauth|gcp: falcoctl's ways to authenticate to
// registries, stored where falcoctl stores them so that either tool reads
// what the other wrote.

func newCmdRegistryAuth(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "auth",
		Short: "Set up registry authentication as falcoctl does (basic, OAuth2 client credentials, GCP)",
	}
	cmd.AddCommand(NewCmdAuthBasic(f, nil), NewCmdAuthOAuth(f, nil), NewCmdAuthGCP(f, nil))
	return cmd
}

// authHost takes HOST, or a reference whose registry is used (as falcoctl's
// registry auth basic accepts).
func authHost(arg string) string {
	if i := strings.Index(arg, "/"); i > 0 {
		return arg[:i]
	}
	return arg
}

// authView is the JSON shape of registry auth basic, oauth and gcp.
type authView struct {
	Registry string `json:"registry"`
	Method   string `json:"method"`
	User     string `json:"user,omitempty"`
	Store    string `json:"store"`
}

// AuthBasicOptions are the dependencies and flag values of registry auth
// basic.
type AuthBasicOptions struct {
	commandDeps
	credentialFlags
	Credentials func() (credentials.Store, error)
	Host        string
}

// NewCmdAuthBasic builds registry auth basic. runF, when not nil, receives
// the parsed and validated options instead of authBasicRun (tests use it).
func NewCmdAuthBasic(f *cmdutil.Factory, runF func(*AuthBasicOptions) error) *cobra.Command {
	opts := &AuthBasicOptions{commandDeps: newCommandDeps(f), Credentials: f.Credentials}
	cmd := &cobra.Command{
		Use:   "basic HOST [-u USER] [-p PASS | --password-stdin]",
		Short: "Log in to a registry with a user name and password (the docker credential store, like registry login)",
		Long: `Log in to a registry with a user name and password, as falcoctl's registry auth
basic does: the credentials are checked against the registry, then stored in
the docker credential store ($DOCKER_CONFIG/config.json or its helper), like
ferry registry login. HOST may be a reference; its registry is used. Without
-u or -p, they are asked for when stdin is a terminal.`,
		Example: `  ferry registry auth basic -u admin -p secret localhost:5000
  echo "$TOKEN" | ferry registry auth basic ghcr.io -u me --password-stdin`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Host = f.IO, authHost(args[0])
			if opts.PasswordStdin && opts.Password != "" {
				return cmdutil.Usage(errors.New("give --password or --password-stdin, not both"))
			}
			if runF != nil {
				return runF(opts)
			}
			return authBasicRun(cmd.Context(), opts)
		},
	}
	opts.credentialFlags.AddFlags(cmd, "registry user name", "registry password (prefer --password-stdin)")
	return cmd
}

func authBasicRun(ctx context.Context, opts *AuthBasicOptions) error {
	if err := readBasicCredentials(opts.IO, &opts.credentialFlags); err != nil {
		return err
	}
	client, err := opts.OCIClient()
	if err != nil {
		return err
	}
	store, err := opts.Credentials()
	if err != nil {
		return err
	}
	if err := client.Login(ctx, store, opts.Host, auth.Credential{Username: opts.Username, Password: opts.Password}); err != nil {
		return err
	}
	if opts.Global.JSON() {
		return printJSON(opts.IO.Out, authView{Registry: opts.Host, Method: "basic", User: opts.Username, Store: "docker"})
	}
	fmt.Fprintf(opts.IO.Out, "Logged in to %s as %s\n", opts.Host, opts.Username)
	return nil
}

// readBasicCredentials fills what the flags left out: the password from
// stdin, or both from a prompt on a terminal.
func readBasicCredentials(streams cmdutil.IOStreams, opts *credentialFlags) error {
	in, isTTY := streams.In.(*os.File)
	isTTY = isTTY && term.IsTerminal(int(in.Fd()))
	reader := bufio.NewReader(streams.In)
	if opts.Username == "" {
		if !isTTY {
			return cmdutil.Usage(errors.New("--username is required (stdin is not a terminal to ask for it)"))
		}
		fmt.Fprint(streams.ErrOut, "Username: ")
		line, err := reader.ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("reading the user name: %w", err)
		}
		opts.Username = strings.TrimSpace(line)
	}
	switch {
	case opts.PasswordStdin:
		data, err := readAll(reader)
		if err != nil {
			return fmt.Errorf("reading the password from stdin: %w", err)
		}
		opts.Password = strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	case opts.Password == "":
		if !isTTY {
			return cmdutil.Usage(errors.New("give --password or --password-stdin (stdin is not a terminal to ask for it)"))
		}
		fmt.Fprint(streams.ErrOut, "Password: ")
		pw, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(streams.ErrOut)
		if err != nil {
			return fmt.Errorf("reading the password: %w", err)
		}
		opts.Password = string(pw)
	}
	if opts.Username == "" {
		return cmdutil.Usage(errors.New("the user name is empty"))
	}
	return nil
}

// readAll reads a password from stdin, up to 1 MiB.
func readAll(r *bufio.Reader) ([]byte, error) { return io.ReadAll(io.LimitReader(r, 1<<20)) }

// AuthOAuthOptions are the dependencies and flag values of registry auth
// oauth.
type AuthOAuthOptions struct {
	commandDeps
	oci.ClientCredentials
	// ClientCredentialsPath is falcoctl's clientcredentials.json.
	ClientCredentialsPath func() string
	Host                  string
}

// NewCmdAuthOAuth builds registry auth oauth. runF, when not nil, receives
// the parsed and validated options instead of authOAuthRun (tests use it).
func NewCmdAuthOAuth(f *cmdutil.Factory, runF func(*AuthOAuthOptions) error) *cobra.Command {
	opts := &AuthOAuthOptions{commandDeps: newCommandDeps(f), ClientCredentialsPath: f.ClientCredentialsPath}
	cmd := &cobra.Command{
		Use:   "oauth HOST --token-url URL --client-id ID --client-secret SECRET [--scopes S,...]",
		Short: "Store OAuth2 client credentials for a registry (falcoctl's clientcredentials.json)",
		Long: `Store OAuth2 client credentials for a registry, as falcoctl's registry auth
oauth does: a token is requested from --token-url with them first (the
client-credentials grant), then they are saved in
~/.config/falcoctl/clientcredentials.json, the file falcoctl uses. Every
command that then reaches HOST, and finds no docker credentials for it, gets
an access token from the endpoint and gives it to the registry as its bearer
token, renewing it when it expires.`,
		Example: `  ferry registry auth oauth registry.internal:5000 \
      --token-url https://auth.internal/oauth2/token \
      --client-id falco --client-secret "$SECRET" --scopes registry:pull`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Host = f.IO, authHost(args[0])
			if err := opts.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return authOAuthRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.TokenURL, "token-url", "", "token endpoint of the OAuth2 server")
	fl.StringVar(&opts.ClientID, "client-id", "", "client ID of the OAuth2 app")
	fl.StringVar(&opts.ClientSecret, "client-secret", "", "client secret of the OAuth2 app")
	fl.StringSliceVar(&opts.Scopes, "scopes", nil, "scopes to ask for, comma-separated")
	return cmd
}

// Validate checks the flag values before the token endpoint is asked.
func (o *AuthOAuthOptions) Validate() error {
	for _, c := range []struct{ flag, v string }{{"--token-url", o.TokenURL}, {"--client-id", o.ClientID}, {"--client-secret", o.ClientSecret}} {
		if c.v == "" {
			return cmdutil.Usage(fmt.Errorf("%s is required", c.flag))
		}
	}
	if !strings.HasPrefix(o.TokenURL, "https://") && !strings.HasPrefix(o.TokenURL, "http://") {
		return cmdutil.Usage(fmt.Errorf("--token-url must be an http:// or https:// URL, not %q", o.TokenURL))
	}
	return nil
}

func authOAuthRun(ctx context.Context, opts *AuthOAuthOptions) error {
	hc, err := opts.HTTPClient()
	if err != nil {
		return err
	}
	if err := oci.CheckClientCredentials(ctx, hc, opts.Host, opts.ClientCredentials); err != nil {
		return err
	}
	path := opts.ClientCredentialsPath()
	if err := oci.WriteClientCredentials(path, opts.Host, opts.ClientCredentials); err != nil {
		return fmt.Errorf("saving client credentials: %w", err)
	}
	if opts.Global.JSON() {
		return printJSON(opts.IO.Out, authView{Registry: opts.Host, Method: "oauth", Store: path})
	}
	fmt.Fprintf(opts.IO.Out, "Stored client credentials for %s in %s\n", opts.Host, path)
	return nil
}

// AuthGCPOptions are the dependencies and arguments of registry auth gcp.
type AuthGCPOptions struct {
	commandDeps
	// AddGCPRegistry adds a host to the config file's registry.auth.gcp.
	AddGCPRegistry func(host string) error
	ConfigPath     func() string
	Host           string
}

// NewCmdAuthGCP builds registry auth gcp. runF, when not nil, receives the
// parsed options instead of authGCPRun (tests use it).
func NewCmdAuthGCP(f *cmdutil.Factory, runF func(*AuthGCPOptions) error) *cobra.Command {
	opts := &AuthGCPOptions{commandDeps: newCommandDeps(f), AddGCPRegistry: f.AddGCPRegistry, ConfigPath: f.ConfigPath}
	return &cobra.Command{
		Use:   "gcp HOST",
		Short: "Use Google's Application Default Credentials for a registry (e.g. europe-docker.pkg.dev)",
		Long: `Use Google's Application Default Credentials for a registry, as falcoctl's
registry auth gcp does: the credentials are found (the JSON file
GOOGLE_APPLICATION_CREDENTIALS names, gcloud's
application_default_credentials.json, or the GCE/GKE metadata server, e.g.
Workload Identity), a token is obtained and the registry checked with it; then
HOST is added to the config file's registry.auth.gcp. Commands that reach HOST,
and find no docker credentials for it, log in as oauth2accesstoken with a
fresh access token.`,
		Example: `  ferry registry auth gcp europe-docker.pkg.dev
  GOOGLE_APPLICATION_CREDENTIALS=sa.json ferry registry auth gcp us-docker.pkg.dev`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Host = f.IO, authHost(args[0])
			if runF != nil {
				return runF(opts)
			}
			return authGCPRun(cmd.Context(), opts)
		},
	}
}

func authGCPRun(ctx context.Context, opts *AuthGCPOptions) error {
	host := opts.Host
	hc, err := opts.HTTPClient()
	if err != nil {
		return err
	}
	client, err := opts.OCIClient()
	if err != nil {
		return err
	}
	ts, err := oci.GCPTokenSource(ctx, hc)
	if err != nil {
		return &cmdutil.CodedError{Code: cmdutil.ExitAuth, Err: err}
	}
	tok, err := ts.Token()
	if err != nil {
		return &cmdutil.CodedError{Code: cmdutil.ExitAuth, Err: fmt.Errorf("getting a Google access token: %w", err)}
	}
	cred := auth.StaticCredential(host, auth.Credential{Username: oci.GCPUsername, Password: tok.AccessToken})
	if err := client.CheckCredential(ctx, host, cred); err != nil {
		return err
	}
	if err := opts.AddGCPRegistry(host); err != nil {
		return fmt.Errorf("saving the config: %w", err)
	}
	if opts.Global.JSON() {
		return printJSON(opts.IO.Out, authView{Registry: host, Method: "gcp", Store: opts.ConfigPath()})
	}
	fmt.Fprintf(opts.IO.Out, "%s uses Google application default credentials (registry.auth.gcp in %s)\n", host, opts.ConfigPath())
	return nil
}
