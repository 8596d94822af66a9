// Package cli implements ferry's command line: cobra commands, their options
// structs and output. It is the only package that prints.
package cli
