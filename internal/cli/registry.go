package cli

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
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
			reg, err := client.Registry(opts.Host)
			if err != nil {
				return cmdutil.Usage(err)
			}
			store, err := f.Credentials()
			if err != nil {
				return err
			}
			if err := credentials.Login(cmd.Context(), store, reg, auth.Credential{Username: opts.Username, Password: opts.Password}); err != nil {
				return fmt.Errorf("logging in to %s: %w", opts.Host, err)
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
		Use:     "logout HOST",
		Short:   "Remove a registry's credentials from the docker credential store",
		Example: `  ferry registry logout ghcr.io`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := f.Credentials()
			if err != nil {
				return err
			}
			if err := credentials.Logout(cmd.Context(), store, args[0]); err != nil {
				return fmt.Errorf("logging out of %s: %w", args[0], err)
			}
			fmt.Fprintf(f.IO.Out, "Logged out of %s\n", args[0])
			return nil
		},
	}
}
