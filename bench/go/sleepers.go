// sleepers: the Go twin of bench/sleepers.c.  T goroutines (default 1000)
// each loop time.Sleep(S) (default 1 ms) for D milliseconds (default
// 5000).  Every wake-up is one op; its lateness is the time the sleep took
// minus the time asked for, kept in the same log-linear histogram as
// bench/bench_hist.h (64 buckets per power of two), so the percentiles
// compare exactly.
//
// With H hogs, H more goroutines compute without pause for as long.
//
// usage: sleepers [duration-ms] [threads] [sleep-us] [hogs]
package main

import (
	"fmt"
	"math/bits"
	"sync"
	"time"
)

const (
	histSubBits = 6
	histSub     = 1 << histSubBits
	histLinear  = 2 * histSub
	histExpMin  = histSubBits + 1
	histExpMax  = 39
	histBuckets = histLinear + (histExpMax-histExpMin+1)*histSub
)

type hist struct {
	n, max uint64
	count  [histBuckets]uint64
}

func histIndex(v uint64) int {
	if v < histLinear {
		return int(v)
	}
	e := 63 - bits.LeadingZeros64(v)
	if e > histExpMax {
		return histBuckets - 1
	}
	m := int((v >> (e - histSubBits)) & (histSub - 1))
	return histLinear + (e-histExpMin)*histSub + m
}

func histValue(i int) float64 {
	if i < histLinear {
		return float64(i)
	}
	e := histExpMin + (i-histLinear)/histSub
	m := (i - histLinear) % histSub
	width := uint64(1) << (e - histSubBits)
	return float64(uint64(histSub+m)*width) + float64(width-1)/2
}

func (h *hist) add(v uint64) {
	h.count[histIndex(v)]++
	h.n++
	if v > h.max {
		h.max = v
	}
}

func (h *hist) merge(o *hist) {
	for i := range h.count {
		h.count[i] += o.count[i]
	}
	h.n += o.n
	if o.max > h.max {
		h.max = o.max
	}
}

func (h *hist) quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.999999)
	if rank < 1 {
		rank = 1
	}
	if rank > h.n {
		rank = h.n
	}
	seen := uint64(0)
	for i, c := range h.count {
		seen += c
		if seen >= rank {
			v := histValue(i)
			if v > float64(h.max) {
				return float64(h.max)
			}
			return v
		}
	}
	return float64(h.max)
}

func main() {
	durationMs := arg(1, 5000, "duration-ms")
	nthreads := arg(2, 1000, "threads")
	sleepUs := arg(3, 1000, "sleep-us")
	nhogs := arg(4, 0, "hogs")
	want := time.Duration(sleepUs) * time.Microsecond

	var mu sync.Mutex
	total := &hist{}
	gate := make(chan struct{})
	var end time.Time
	var wg sync.WaitGroup
	for i := int64(0); i < nthreads; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			h := &hist{}
			now := time.Now()
			for now.Before(end) {
				before := now
				time.Sleep(want)
				now = time.Now()
				took := now.Sub(before)
				late := uint64(0)
				if took > want {
					late = uint64(took - want)
				}
				h.add(late)
			}
			mu.Lock()
			total.merge(h)
			mu.Unlock()
		}()
	}
	spins := make([]uint64, nhogs)
	for i := int64(0); i < nhogs; i++ {
		wg.Add(1)
		go func(i int64) {
			defer wg.Done()
			<-gate
			n := uint64(0)
			for time.Now().Before(end) {
				for j := 0; j < 1000; j++ {
					n++
				}
			}
			spins[i] = n
		}(i)
	}
	t0 := time.Now()
	end = t0.Add(time.Duration(durationMs) * time.Millisecond)
	close(gate)
	wg.Wait()
	elapsed := time.Since(t0)

	secs := elapsed.Seconds()
	wps := 0.0
	if secs > 0 {
		wps = float64(total.n) / secs
	}
	result("sleepers", elapsed, int64(total.n), fmt.Sprintf("wakes_per_s=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f "+
		"threads=%d sleep_us=%d duration_ms=%d hogs=%d", wps, total.quantile(0.50)/1e3, total.quantile(0.99)/1e3,
		float64(total.max)/1e3, nthreads, sleepUs, durationMs, nhogs))
}
