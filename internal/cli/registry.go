package cli

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/oci"
)

func newCmdRegistry(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Log in to registries, set up their authentication, push and pull artifacts",
	}
	cmd.AddCommand(newCmdLogin(f), newCmdLogout(f))
	cmd.AddCommand(newCmdRegistryAuth(f), newCmdRegistryPush(f), newCmdRegistryPull(f))
	return cmd
}

type loginOptions struct {
	Host          string
	Username      string
	Password      string
	PasswordStdin bool
}

func newCmdLogin(f *cmdutil.Factory) *cobra.Command {
	opts := &loginOptions{}
	cmd := &cobra.Command{
		Use:   "login HOST -u USER (-p PASS | --password-stdin)",
		Short: "Log in to a registry; credentials go to the docker credential store",
		Long: `Log in to a registry; credentials go to the docker credential store. They are
checked against the registry first: a refusal stores nothing and exits 4.`,
		Example: `  echo "$TOKEN" | ferry registry login ghcr.io -u me --password-stdin
  ferry registry login 127.0.0.1:5000 -u admin -p secret --plain-http`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Host = args[0]
			if opts.Username == "" {
				return cmdutil.Usage(errors.New("--username is required"))
			}
			if opts.PasswordStdin == (opts.Password != "") {
				return cmdutil.Usage(errors.New("give exactly one of --password and --password-stdin"))
			}
			if opts.PasswordStdin {
				line, err := bufio.NewReader(f.IO.In).ReadString('\n')
				if err != nil && line == "" {
					return fmt.Errorf("reading the password from stdin: %w", err)
				}
				opts.Password = strings.TrimRight(line, "\r\n")
			}
			client, err := f.OCIClient()
			if err != nil {
				return err
			}
			if _, err := client.Registry(opts.Host); err != nil {
				return cmdutil.Usage(err)
			}
			store, err := f.Credentials()
			if err != nil {
				return err
			}
			if err := client.Login(cmd.Context(), store, opts.Host, auth.Credential{Username: opts.Username, Password: opts.Password}); err != nil {
				if errors.Is(err, oci.ErrUnauthorized) {
					return &cmdutil.CodedError{Code: cmdutil.ExitAuth, Err: err,
						Hint: "check the user name and the password or token, then run: ferry registry login " + opts.Host + " -u USER --password-stdin"}
				}
				return err
			}
			fmt.Fprintf(f.IO.Out, "Logged in to %s as %s\n", opts.Host, opts.Username)
			return nil
		},
	}
	cmd.Flags().StringVarP(&opts.Username, "username", "u", "", "user name")
	cmd.Flags().StringVarP(&opts.Password, "password", "p", "", "password or token (prefer --password-stdin)")
	cmd.Flags().BoolVar(&opts.PasswordStdin, "password-stdin", false, "read the password from stdin")
	return cmd
}

func newCmdLogout(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "logout HOST",
		Short: "Remove a registry's credentials from the docker credential store",
		Long: `Remove a registry's credentials from the docker credential store. A host
with no stored credentials is reported ("Not logged in to HOST") and is not
an error (exit 0), as with docker logout.`,
		Example: `  ferry registry logout ghcr.io`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := f.Credentials()
			if err != nil {
				return err
			}
			removed, err := oci.Logout(cmd.Context(), store, args[0])
			if err != nil {
				return err
			}
			if !removed {
				// As docker does: nothing to remove is not an error.
				fmt.Fprintf(f.IO.Out, "Not logged in to %s\n", args[0])
				return nil
			}
			fmt.Fprintf(f.IO.Out, "Logged out of %s\n", args[0])
			return nil
		},
	}
}
