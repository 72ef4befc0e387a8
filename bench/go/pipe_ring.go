// pipe_ring: the Go twin of bench/pipe_ring.c.  T goroutines (default 64)
// in a ring of os.Pipe pipes pass a 1-byte token around N times in all
// (hops): goroutine i reads a byte from pipe i and writes it to pipe i+1.
// Go's os.Pipe files are non-blocking underneath and a read that finds the
// pipe empty parks the goroutine on the netpoller.  ns_per_op = wall time
// from the injection to the token's arrival on the "done" pipe / N.
//
// usage: pipe_ring [hops] [threads]     (default 100000 hops, 64 threads)
package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

func must(err error, what string) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "pipe_ring: %s: %v\n", what, err)
		os.Exit(1)
	}
}

func main() {
	nhops := arg(1, 100000, "hops")
	nthreads := arg(2, 64, "threads")
	if nthreads < 1 {
		fmt.Fprintln(os.Stderr, "pipe_ring: threads must be at least 1")
		os.Exit(2)
	}
	rd := make([]*os.File, nthreads)
	wr := make([]*os.File, nthreads)
	for i := range rd {
		var err error
		rd[i], wr[i], err = os.Pipe()
		must(err, "pipe (raise ulimit -n?)")
	}
	doneR, doneW, err := os.Pipe()
	must(err, "pipe")

	var wg sync.WaitGroup
	for i := int64(0); i < nthreads; i++ {
		mine := nhops / nthreads
		if i < nhops%nthreads {
			mine++
		}
		wg.Add(1)
		go func(me, mine int64) {
			defer wg.Done()
			in, out := rd[me], wr[(me+1)%nthreads]
			tok := make([]byte, 1)
			for k := int64(0); k < mine; k++ {
				if n, err := in.Read(tok); n != 1 {
					must(err, "read")
				}
				// The hop numbered nhops - 1 is the last: it goes to main.
				dst := out
				if me+k*nthreads == nhops-1 {
					dst = doneW
				}
				if n, err := dst.Write(tok); n != 1 {
					must(err, "write")
				}
			}
		}(i, mine)
	}

	tok := []byte{'x'}
	t0 := time.Now()
	if nhops > 0 {
		_, err := wr[0].Write(tok)
		must(err, "inject")
		tok[0] = 0
		_, err = doneR.Read(tok)
		must(err, "read done")
	}
	elapsed := time.Since(t0)
	wg.Wait()
	if nhops > 0 && tok[0] != 'x' {
		fmt.Fprintf(os.Stderr, "pipe_ring: token came back as %d, expected 'x'\n", tok[0])
		os.Exit(1)
	}
	result("pipe_ring", elapsed, nhops, fmt.Sprintf("hops=%d threads=%d", nhops, nthreads))
}
