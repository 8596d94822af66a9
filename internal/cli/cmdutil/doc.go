// Package cmdutil holds what every ferry command shares: the Factory of lazily
// built dependencies, the configuration file, flag/environment/config
// precedence, output formats, and the mapping of errors to exit codes.
package cmdutil
