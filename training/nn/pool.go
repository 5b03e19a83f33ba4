package nn

import (
	"runtime"
	"sync"
)

// Pool is a fixed set of worker goroutines that split the rows (or tiles,
// or heads) of an op. The calling goroutine takes part, so NewPool(n) starts
// n-1 goroutines. Work is sent as plain task values over a buffered channel,
// so dispatch does not allocate. One dispatch runs at a time; concurrent
// callers are serialised. A nil *Pool runs every op serially.
type Pool struct {
	workers int
	tasks   chan task
	done    chan struct{}
	mu      sync.Mutex
	wg      sync.WaitGroup
	closed  bool
}

// NewPool starts a pool of n workers; n <= 0 means runtime.GOMAXPROCS(0).
func NewPool(n int) *Pool {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	p := &Pool{workers: n - 1, tasks: make(chan task, n), done: make(chan struct{}, n)}
	for range n - 1 {
		p.wg.Add(1)
		go p.loop()
	}
	return p
}

// Size is the number of goroutines that share the work (1 for a nil pool).
func (p *Pool) Size() int {
	if p == nil {
		return 1
	}
	return p.workers + 1
}

// Close stops the workers; it is safe to call more than once. Ops called on
// a closed pool run serially.
func (p *Pool) Close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.tasks)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Pool) loop() {
	defer p.wg.Done()
	for t := range p.tasks {
		t.exec()
		p.done <- struct{}{}
	}
}

// run executes t over the index range [0,total), split into at most Size()
// contiguous chunks of at least minChunk items each.
func (p *Pool) run(t *task, total, minChunk int) {
	if total <= 0 {
		return
	}
	parts := p.Size()
	if minChunk < 1 {
		minChunk = 1
	}
	parts = min(parts, total/minChunk)
	if parts <= 1 {
		t.lo, t.hi = 0, total
		t.exec()
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		t.lo, t.hi = 0, total
		t.exec()
		return
	}
	for i := range parts - 1 {
		c := *t
		c.lo, c.hi = total*i/parts, total*(i+1)/parts
		p.tasks <- c
	}
	t.lo, t.hi = total*(parts-1)/parts, total
	t.exec()
	for range parts - 1 {
		<-p.done
	}
}
