// ThreadStress: 200 Java threads on the JVM's own synchronisation, run
// natively and under gmpt by tests/real/java.sh; every line it prints is
// a closed-form result, so the two outputs must be identical.
//
//   - all 200 threads meet at a gate made of synchronized/wait/notifyAll
//     (a monitor), so they are alive at the same time;
//   - each increments a synchronized counter and an AtomicLong, and adds to
//     a ConcurrentHashMap bucket;
//   - 100 producers put numbered items into an ArrayBlockingQueue of 64
//     slots, 100 consumers take them (each gets a fixed share, so no
//     poison pills are needed) and sum them;
//   - every item is turned into a freshly allocated array that lives for a
//     few items, so young collections happen; the count of collections is
//     only checked to be non-zero, since the number depends on the machine.
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

public class ThreadStress {
    static final int PAIRS = 100; // producers, and as many consumers
    static final int ITEMS = 2000; // per producer, and per consumer
    static final int INCREMENTS = 5000; // per thread
    static final int ALLOC = 512; // longs per item: 4 KiB of garbage

    static final class Counter {
        private long value;

        synchronized void add(long n) {
            value += n;
        }

        synchronized long get() {
            return value;
        }
    }

    // Releases everyone once all have arrived (a monitor, not a j.u.c class).
    static final class Gate {
        private int arrived;
        private final int parties;

        Gate(int parties) {
            this.parties = parties;
        }

        synchronized void arrive() throws InterruptedException {
            arrived++;
            if (arrived == parties) {
                notifyAll();
            }
            while (arrived < parties) {
                wait();
            }
        }
    }

    static final Counter counter = new Counter();
    static final Counter consumedSum = new Counter();
    static final AtomicLong atomic = new AtomicLong();
    static final ConcurrentHashMap<Integer, Long> buckets = new ConcurrentHashMap<>();
    static final BlockingQueue<long[]> queue = new ArrayBlockingQueue<>(64);
    static final Gate gate = new Gate(2 * PAIRS);
    static volatile long sink; // keeps the allocations from being optimised away

    static void common(int id) throws InterruptedException {
        gate.arrive();
        for (int i = 0; i < INCREMENTS; i++) {
            counter.add(1);
            atomic.incrementAndGet();
        }
        buckets.merge(id % 10, 1L, Long::sum);
    }

    static void produce(int id) throws InterruptedException {
        common(id);
        for (int i = 0; i < ITEMS; i++) {
            long[] item = new long[ALLOC];
            item[0] = (long) id * ITEMS + i + 1;
            queue.put(item);
        }
    }

    static void consume(int id) throws InterruptedException {
        common(id);
        long[][] recent = new long[4][];
        long sum = 0;
        for (int i = 0; i < ITEMS; i++) {
            long[] item = queue.take();
            sum += item[0];
            long[] copy = new long[ALLOC];
            copy[i % ALLOC] = item[0];
            recent[i % recent.length] = copy;
        }
        long keep = 0;
        for (long[] r : recent) {
            keep += r.length;
        }
        sink += keep;
        consumedSum.add(sum);
    }

    public static void main(String[] args) throws Exception {
        List<Thread> threads = new ArrayList<>();
        final Throwable[] failure = new Throwable[1];
        for (int t = 0; t < 2 * PAIRS; t++) {
            final int id = t;
            final boolean producer = t % 2 == 0;
            Thread th = new Thread(() -> {
                try {
                    if (producer) {
                        produce(id / 2);
                    } else {
                        consume(id / 2);
                    }
                } catch (Throwable e) {
                    synchronized (failure) {
                        failure[0] = e;
                    }
                }
            }, (producer ? "producer-" : "consumer-") + id / 2);
            threads.add(th);
        }
        for (Thread th : threads) {
            th.start();
        }
        for (Thread th : threads) {
            th.join();
        }
        if (failure[0] != null) {
            throw new RuntimeException("a worker failed", failure[0]);
        }

        long n = (long) PAIRS * ITEMS; // items 1..n, each once
        long threadsN = 2L * PAIRS;
        System.out.println("threads: " + threadsN);
        System.out.println("synchronized counter: " + counter.get()
                + (counter.get() == threadsN * INCREMENTS ? " (ok)" : " (WRONG)"));
        System.out.println("atomic counter: " + atomic.get()
                + (atomic.get() == threadsN * INCREMENTS ? " (ok)" : " (WRONG)"));
        System.out.println("queue sum: " + consumedSum.get()
                + (consumedSum.get() == n * (n + 1) / 2 ? " (ok)" : " (WRONG)"));
        System.out.println("queue empty: " + queue.isEmpty());
        Map<Integer, Long> sorted = new TreeMap<>(buckets);
        System.out.println("buckets: " + sorted);

        long collections = 0;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            collections += Math.max(0, gc.getCollectionCount());
        }
        System.out.println("garbage collected: " + (collections > 0));
    }
}
