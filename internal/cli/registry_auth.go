package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"oras.land/oras-go/v2/registry/remote/auth"

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
	cmd.AddCommand(newCmdAuthBasic(f), newCmdAuthOAuth(f), newCmdAuthGCP(f))
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

type authView struct {
	Registry string `json:"registry"`
	Method   string `json:"method"`
	User     string `json:"user,omitempty"`
	Store    string `json:"store"`
}

func newCmdAuthBasic(f *cmdutil.Factory) *cobra.Command {
	opts := &loginOptions{}
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
			opts.Host = authHost(args[0])
			if opts.PasswordStdin && opts.Password != "" {
				return cmdutil.Usage(errors.New("give --password or --password-stdin, not both"))
			}
			if err := readBasicCredentials(f, opts); err != nil {
				return err
			}
			client, err := f.OCIClient()
			if err != nil {
				return err
			}
			store, err := f.Credentials()
			if err != nil {
				return err
			}
			if err := client.Login(cmd.Context(), store, opts.Host, auth.Credential{Username: opts.Username, Password: opts.Password}); err != nil {
				return err
			}
			if f.Global.JSON() {
				return f.PrintJSON(authView{Registry: opts.Host, Method: "basic", User: opts.Username, Store: "docker"})
			}
			fmt.Fprintf(f.IO.Out, "Logged in to %s as %s\n", opts.Host, opts.Username)
			return nil
		},
	}
	cmd.Flags().StringVarP(&opts.Username, "username", "u", "", "registry user name")
	cmd.Flags().StringVarP(&opts.Password, "password", "p", "", "registry password (prefer --password-stdin)")
	cmd.Flags().BoolVar(&opts.PasswordStdin, "password-stdin", false, "read the password from stdin")
	return cmd
}

// readBasicCredentials fills what the flags left out: the password from
// stdin, or both from a prompt on a terminal.
func readBasicCredentials(f *cmdutil.Factory, opts *loginOptions) error {
	in, isTTY := f.IO.In.(*os.File)
	isTTY = isTTY && term.IsTerminal(int(in.Fd()))
	reader := bufio.NewReader(f.IO.In)
	if opts.Username == "" {
		if !isTTY {
			return cmdutil.Usage(errors.New("--username is required (stdin is not a terminal to ask for it)"))
		}
		fmt.Fprint(f.IO.ErrOut, "Username: ")
		line, err := reader.ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("reading the user name: %w", err)
		}
		opts.Username = strings.TrimSpace(line)
	}
	switch {
	case opts.PasswordStdin:
		data, err := io.ReadAll(io.LimitReader(reader, 1<<20))
		if err != nil {
			return fmt.Errorf("reading the password from stdin: %w", err)
		}
		opts.Password = strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	case opts.Password == "":
		if !isTTY {
			return cmdutil.Usage(errors.New("give --password or --password-stdin (stdin is not a terminal to ask for it)"))
		}
		fmt.Fprint(f.IO.ErrOut, "Password: ")
		pw, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(f.IO.ErrOut)
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

func newCmdAuthOAuth(f *cmdutil.Factory) *cobra.Command {
	var cc oci.ClientCredentials
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
			host := authHost(args[0])
			for flag, v := range map[string]string{"--token-url": cc.TokenURL, "--client-id": cc.ClientID, "--client-secret": cc.ClientSecret} {
				if v == "" {
					return cmdutil.Usage(fmt.Errorf("%s is required", flag))
				}
			}
			if !strings.HasPrefix(cc.TokenURL, "https://") && !strings.HasPrefix(cc.TokenURL, "http://") {
				return cmdutil.Usage(fmt.Errorf("--token-url must be an http:// or https:// URL, not %q", cc.TokenURL))
			}
			hc, err := f.HTTPClient()
			if err != nil {
				return err
			}
			if err := oci.CheckClientCredentials(cmd.Context(), hc, host, cc); err != nil {
				return err
			}
			path := f.ClientCredentialsPath()
			if err := oci.WriteClientCredentials(path, host, cc); err != nil {
				return fmt.Errorf("saving client credentials: %w", err)
			}
			if f.Global.JSON() {
				return f.PrintJSON(authView{Registry: host, Method: "oauth", Store: path})
			}
			fmt.Fprintf(f.IO.Out, "Stored client credentials for %s in %s\n", host, path)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cc.TokenURL, "token-url", "", "token endpoint of the OAuth2 server")
	fl.StringVar(&cc.ClientID, "client-id", "", "client ID of the OAuth2 app")
	fl.StringVar(&cc.ClientSecret, "client-secret", "", "client secret of the OAuth2 app")
	fl.StringSliceVar(&cc.Scopes, "scopes", nil, "scopes to ask for, comma-separated")
	return cmd
}

func newCmdAuthGCP(f *cmdutil.Factory) *cobra.Command {
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
			host := authHost(args[0])
			hc, err := f.HTTPClient()
			if err != nil {
				return err
			}
			client, err := f.OCIClient()
			if err != nil {
				return err
			}
			ts, err := oci.GCPTokenSource(cmd.Context(), hc)
			if err != nil {
				return &cmdutil.CodedError{Code: cmdutil.ExitAuth, Err: err}
			}
			tok, err := ts.Token()
			if err != nil {
				return &cmdutil.CodedError{Code: cmdutil.ExitAuth, Err: fmt.Errorf("getting a Google access token: %w", err)}
			}
			cred := auth.StaticCredential(host, auth.Credential{Username: oci.GCPUsername, Password: tok.AccessToken})
			if err := client.CheckCredential(cmd.Context(), host, cred); err != nil {
				return err
			}
			if err := f.AddGCPRegistry(host); err != nil {
				return fmt.Errorf("saving the config: %w", err)
			}
			if f.Global.JSON() {
				return f.PrintJSON(authView{Registry: host, Method: "gcp", Store: f.ConfigPath()})
			}
			fmt.Fprintf(f.IO.Out, "%s uses Google application default credentials (registry.auth.gcp in %s)\n", host, f.ConfigPath())
			return nil
		},
	}
}
