// Command ferry installs and publishes Falco artifacts from OCI registries.
package main

import (
	"os"

	"github.com/ferryhq/ferry/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
