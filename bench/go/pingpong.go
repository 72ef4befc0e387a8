// pingpong: the Go twin of bench/pingpong.c.  Two goroutines hand a token
// back and forth N times (round trips) through one sync.Mutex and two
// sync.Conds, exactly as the C program does with a pthread mutex and two
// condition variables.  ns_per_op = wall time / (2 * N), one one-way
// handoff.
//
// usage: pingpong [N]           (default 50000 round trips)
package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

func main() {
	rounds := arg(1, 50000, "round-trips")
	var mu sync.Mutex
	cv := [2]*sync.Cond{sync.NewCond(&mu), sync.NewCond(&mu)}
	turn := 0
	handoffs := int64(0)
	var wg sync.WaitGroup
	player := func(me int) {
		defer wg.Done()
		mu.Lock()
		for i := int64(0); i < rounds; i++ {
			for turn != me {
				cv[me].Wait()
			}
			turn = 1 - me
			handoffs++
			cv[1-me].Signal()
		}
		mu.Unlock()
	}
	// Hold the lock while both start so the clock starts with both alive.
	mu.Lock()
	wg.Add(2)
	go player(0)
	go player(1)
	t0 := time.Now()
	mu.Unlock()
	wg.Wait()
	elapsed := time.Since(t0)
	if handoffs != 2*rounds {
		fmt.Fprintf(os.Stderr, "pingpong: %d handoffs, expected %d\n", handoffs, 2*rounds)
		os.Exit(1)
	}
	result("pingpong", elapsed, 2*rounds, "")
}
