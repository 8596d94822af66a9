package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/oci"
)

func newCmdRegistry(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Log in to registries, set up their authentication, push and pull artifacts",
	}
	cmd.AddCommand(NewCmdLogin(f, nil), NewCmdLogout(f, nil))
	cmd.AddCommand(newCmdRegistryAuth(f), NewCmdRegistryPush(f, nil), NewCmdRegistryPull(f, nil))
	return cmd
}

// LoginOptions are the dependencies and flag values of registry login.
type LoginOptions struct {
	commandDeps
	credentialFlags
	Credentials func() (credentials.Store, error)
	Host        string
}

// NewCmdLogin builds registry login. runF, when not nil, receives the
// parsed and validated options instead of loginRun (tests use it).
func NewCmdLogin(f *cmdutil.Factory, runF func(*LoginOptions) error) *cobra.Command {
	opts := &LoginOptions{commandDeps: newCommandDeps(f), Credentials: f.Credentials}
	cmd := &cobra.Command{
		Use:   "login HOST -u USER (-p PASS | --password-stdin)",
		Short: "Log in to a registry; credentials go to the docker credential store",
		Long: `Log in to a registry; credentials go to the docker credential store. They are
checked against the registry first: a refusal stores nothing and exits 4.`,
		Example: `  echo "$TOKEN" | ferry registry login ghcr.io -u me --password-stdin
  ferry registry login 127.0.0.1:5000 -u admin -p secret --plain-http`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Host = f.IO, args[0]
			if err := opts.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return loginRun(cmd.Context(), opts)
		},
	}
	opts.credentialFlags.AddFlags(cmd, "user name", "password or token (prefer --password-stdin)")
	return cmd
}

// Validate checks the flag values before stdin is read.
func (o *LoginOptions) Validate() error {
	if o.Username == "" {
		return cmdutil.Usage(errors.New("--username is required"))
	}
	if o.PasswordStdin == (o.Password != "") {
		return cmdutil.Usage(errors.New("give exactly one of --password and --password-stdin"))
	}
	return nil
}

func loginRun(ctx context.Context, opts *LoginOptions) error {
	if opts.PasswordStdin {
		line, err := bufio.NewReader(opts.IO.In).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("reading the password from stdin: %w", err)
		}
		opts.Password = strings.TrimRight(line, "\r\n")
	}
	client, err := opts.OCIClient()
	if err != nil {
		return err
	}
	if _, err := client.Registry(opts.Host); err != nil {
		return cmdutil.Usage(err)
	}
	store, err := opts.Credentials()
	if err != nil {
		return err
	}
	if err := client.Login(ctx, store, opts.Host, auth.Credential{Username: opts.Username, Password: opts.Password}); err != nil {
		if errors.Is(err, oci.ErrUnauthorized) {
			return &cmdutil.CodedError{Code: cmdutil.ExitAuth, Err: err,
				Hint: "check the user name and the password or token, then run: ferry registry login " + opts.Host + " -u USER --password-stdin"}
		}
		return err
	}
	fmt.Fprintf(opts.IO.Out, "Logged in to %s as %s\n", opts.Host, opts.Username)
	return nil
}

// LogoutOptions are the dependencies and arguments of registry logout.
type LogoutOptions struct {
	commandDeps
	Credentials func() (credentials.Store, error)
	Host        string
}

// NewCmdLogout builds registry logout. runF, when not nil, receives the
// parsed options instead of logoutRun (tests use it).
func NewCmdLogout(f *cmdutil.Factory, runF func(*LogoutOptions) error) *cobra.Command {
	opts := &LogoutOptions{commandDeps: newCommandDeps(f), Credentials: f.Credentials}
	return &cobra.Command{
		Use:   "logout HOST",
		Short: "Remove a registry's credentials from the docker credential store",
		Long: `Remove a registry's credentials from the docker credential store. A host
with no stored credentials is reported ("Not logged in to HOST") and is not
an error (exit 0), as with docker logout.`,
		Example: `  ferry registry logout ghcr.io`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IO, opts.Host = f.IO, args[0]
			if runF != nil {
				return runF(opts)
			}
			return logoutRun(cmd.Context(), opts)
		},
	}
}

func logoutRun(ctx context.Context, opts *LogoutOptions) error {
	store, err := opts.Credentials()
	if err != nil {
		return err
	}
	removed, err := oci.Logout(ctx, store, opts.Host)
	if err != nil {
		return err
	}
	if !removed {
		// As docker does: nothing to remove is not an error.
		fmt.Fprintf(opts.IO.Out, "Not logged in to %s\n", opts.Host)
		return nil
	}
	fmt.Fprintf(opts.IO.Out, "Logged out of %s\n", opts.Host)
	return nil
}
