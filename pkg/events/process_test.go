package events

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestHelperProcess is not a test: run as a child process by the tests
// below (FERRY_EVENTS_HELPER set), it emits events or flushes the spool as
// a separate ferry process would, and prints the number it delivered.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv("FERRY_EVENTS_HELPER")
	if mode == "" {
		t.Skip("helper process only")
	}
	cfg := Config{SpoolDir: os.Getenv("HELPER_SPOOL"), File: os.Getenv("HELPER_FILE"), Timeout: 2 * time.Second}
	if u := os.Getenv("HELPER_SINK"); u != "" {
		cfg.Sinks = []Sink{{URL: u}}
	}
	e, err := New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx := context.Background()
	switch mode {
	case "emit":
		base, _ := strconv.Atoi(os.Getenv("HELPER_BASE"))
		n, _ := strconv.Atoi(os.Getenv("HELPER_N"))
		for i := range n {
			if _, err := e.Downloaded(ctx, testArtifact(base+i)); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
		}
		fmt.Println(0)
	case "flush":
		n, _, err := e.Flush(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Println(n)
	}
	os.Exit(0)
}

// helpers runs n helper processes at once and returns the sum of what they
// printed.
func helpers(t *testing.T, n int, env func(i int) []string) int {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for i := range n {
		wg.Go(func() {
			cmd := exec.Command(exe, "-test.run=^TestHelperProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), env(i)...)
			var out, errOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errOut
			if err := cmd.Run(); err != nil {
				t.Errorf("helper %d: %v\n%s", i, err, errOut.String())
				return
			}
			fields := strings.Fields(out.String())
			if len(fields) == 0 {
				t.Errorf("helper %d printed nothing", i)
				return
			}
			v, err := strconv.Atoi(fields[0])
			if err != nil {
				t.Errorf("helper %d printed %q", i, out.String())
				return
			}
			mu.Lock()
			total += v
			mu.Unlock()
		})
	}
	wg.Wait()
	return total
}

func TestConcurrentProcessesShareASpool(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	r := downReceiver(t)
	dir := t.TempDir()
	spool, file := filepath.Join(dir, "spool"), filepath.Join(dir, "events.jsonl")
	const procs, perProc = 4, 10
	helpers(t, procs, func(i int) []string {
		return []string{"FERRY_EVENTS_HELPER=emit", "HELPER_SPOOL=" + spool, "HELPER_FILE=" + file, "HELPER_SINK=" + r.URL(),
			"HELPER_BASE=" + strconv.Itoa(i*1000), "HELPER_N=" + strconv.Itoa(perProc)}
	})
	checkSpoolAndFile(t, spool, file, procs*perProc)
	r.start()
	delivered := helpers(t, 3, func(int) []string {
		return []string{"FERRY_EVENTS_HELPER=flush", "HELPER_SPOOL=" + spool}
	})
	checkExactlyOnce(t, r, delivered, procs*perProc)
	if l := spoolFiles(t, spool); len(l) != 0 {
		t.Errorf("spool holds %d after the flushes", len(l))
	}
	// Oldest first within the sink, across the processes that spooled.
	got := r.events()
	for i := 1; i < len(got); i++ {
		if got[i].Event.Time().Before(got[i-1].Event.Time()) {
			t.Errorf("event %d is older than the one before it", i)
		}
	}
}
