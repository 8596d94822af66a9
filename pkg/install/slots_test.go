package install

import (
	"context"
	"testing"
)

func TestDownloadSlots(t *testing.T) {
	s := newDownloadSlots(1, 2)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	ctx := context.Background()

	releaseLarge, err := s.acquire(ctx, smallLayer)
	if err != nil {
		t.Fatal(err)
	}
	// The one large slot is taken: another large download waits (here: its
	// context is done, so it gives up), small ones do not.
	if _, err := s.acquire(done, 64<<20); err == nil {
		t.Fatal("a second large download got a slot")
	}
	releaseSmall, err := s.acquire(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.acquire(ctx, smallLayer-1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.acquire(done, 10); err == nil {
		t.Fatal("a third small download got one of two slots")
	}
	// Releasing twice frees one slot, not two.
	releaseSmall()
	releaseSmall()
	if _, err := s.acquire(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := s.acquire(done, 10); err == nil {
		t.Fatal("a double release freed two slots")
	}
	releaseLarge()
	if _, err := s.acquire(ctx, smallLayer); err != nil {
		t.Fatal(err)
	}
}
