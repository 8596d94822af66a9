package install

import (
	"context"
	"sync"
)

// smallLayer is the size under which a layer's download costs a round
// trip rather than bandwidth.
const smallLayer = 1 << 20

// downloadSlots bounds the layer downloads in flight: up to large layers
// of smallLayer bytes or more (they share the bandwidth, the disk and the
// registry's patience), and up to small smaller ones (they only wait on
// the network's latency, so more of them go at once).
type downloadSlots struct {
	large, small chan struct{}
}

func newDownloadSlots(large, small int) *downloadSlots {
	return &downloadSlots{large: make(chan struct{}, max(large, 1)), small: make(chan struct{}, max(small, 1))}
}

// acquire waits for a slot for a layer of size bytes and returns the
// function that frees it; calling that more than once frees it once.
func (s *downloadSlots) acquire(ctx context.Context, size int64) (func(), error) {
	ch := s.large
	if size < smallLayer {
		ch = s.small
	}
	select {
	case ch <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var once sync.Once
	return func() { once.Do(func() { <-ch }) }, nil
}
