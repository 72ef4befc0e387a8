// echo_server: the Go twin of bench/echo_server.c, written the way Go
// servers are: net.Listen, one goroutine per accepted connection that
// reads and writes back whatever arrives until the peer closes (the
// goroutine parks on the netpoller between requests).  Same interface as
// the C server, so bench/echo_load drives either:
//
// It listens on 127.0.0.1 on a port the kernel picks and announces it as
// one line "PORT PID" on stdout, or in PORT-FILE (written to PORT-FILE.tmp
// and renamed).  It runs until it is killed, or, when EXIT-AFTER is given
// and not 0, until that many connections have been closed; then it prints
//
//	RESULT name=echo_server ns_per_op=0 ops=<connections> bytes=<echoed>
//
// and exits 0.
//
// usage: echo_server [PORT-FILE|-] [EXIT-AFTER]
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

func main() {
	portFile := ""
	if len(os.Args) > 1 {
		portFile = os.Args[1]
	}
	exitAfter := int64(0)
	if len(os.Args) > 2 {
		v, err := strconv.ParseInt(os.Args[2], 10, 64)
		if err != nil || v < 0 {
			fmt.Fprintf(os.Stderr, "%s: EXIT-AFTER must be a non-negative integer, got '%s'\n", os.Args[0], os.Args[2])
			os.Exit(2)
		}
		exitAfter = v
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(os.Stderr, "echo_server: listen: %v\n", err)
		os.Exit(1)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	line := fmt.Sprintf("%d %d\n", port, os.Getpid())
	if portFile == "" || portFile == "-" {
		fmt.Print(line)
	} else if err := os.WriteFile(portFile+".tmp", []byte(line), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "echo_server: cannot write %s: %v\n", portFile, err)
		os.Exit(1)
	} else if err := os.Rename(portFile+".tmp", portFile); err != nil {
		fmt.Fprintf(os.Stderr, "echo_server: cannot write %s: %v\n", portFile, err)
		os.Exit(1)
	}

	var mu sync.Mutex
	var accepted, closed int64
	var echoed uint64
	serve := func(c net.Conn) {
		buf := make([]byte, 4096)
		bytes := uint64(0)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if _, werr := c.Write(buf[:n]); werr != nil {
					break
				}
				bytes += uint64(n)
			}
			if err != nil {
				break
			}
		}
		c.Close()
		mu.Lock()
		closed++
		echoed += bytes
		done := exitAfter > 0 && closed >= exitAfter
		nConns, nBytes := accepted, echoed
		mu.Unlock()
		if done {
			fmt.Printf("RESULT name=echo_server ns_per_op=0 ops=%d bytes=%d\n", nConns, nBytes)
			os.Exit(0)
		}
	}
	warned := false
	for {
		c, err := ln.Accept()
		if err != nil {
			// Out of fds and the like: wait a little and retry, as the C
			// server does (and as net/http's server does).
			if !warned {
				fmt.Fprintf(os.Stderr, "echo_server: accept: %v (raise ulimit -n?); retrying\n", err)
				warned = true
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		mu.Lock()
		accepted++
		mu.Unlock()
		go serve(c)
	}
}
