package driver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
)

// System runs the commands that load and unload kernel modules. OS is the
// real one; tests use fakes.
type System interface {
	// ModuleLoaded reports whether the kernel has a module of that name loaded.
	ModuleLoaded(name string) (bool, error)
	// HasCommand reports whether a command can be run.
	HasCommand(name string) bool
	// Run runs a command; a failure's error includes what it printed.
	Run(ctx context.Context, args []string) error
}

// OS is the running system: /proc/modules and commands found in PATH.
type OS struct {
	// ProcModules is the table of loaded modules (default /proc/modules). A
	// kernel without module support has none: nothing is loaded.
	ProcModules string
}

// ModuleLoaded reads the table of loaded modules.
func (o OS) ModuleLoaded(name string) (bool, error) {
	path := o.ProcModules
	if path == "" {
		path = "/proc/modules"
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 0 && f[0] == name {
			return true, nil
		}
	}
	return false, sc.Err()
}

// HasCommand looks the command up in PATH.
func (OS) HasCommand(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

// Run runs the command and returns its output in the error when it fails.
func (OS) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("no command")
	}
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		if msg := strings.TrimSpace(string(out)); msg != "" {
			return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.Join(strings.Fields(msg), " "))
		}
		return fmt.Errorf("%s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// Command is a command ferry runs, or would run with a dry run.
type Command struct {
	Args []string `json:"args"`
	// When says the condition under which it runs ("" = always).
	When string `json:"when,omitempty"`
	// Ran is true once it ran (and succeeded, unless Error is set).
	Ran   bool   `json:"ran"`
	Error string `json:"error,omitempty"`
}

// String renders the command as a shell line.
func (c Command) String() string { return strings.Join(c.Args, " ") }
