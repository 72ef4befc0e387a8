"""Deterministic test input for the 'real' suite.

  gen_data.py blob SIZE SEED   SIZE bytes: lines of pseudo-random words (it
                               compresses to about a third) with a block of
                               pseudo-random bytes (incompressible) every
                               ~650 KB
  gen_data.py lines N SEED     N lines "WORD NUMBER<TAB>WORD" for sort

The same arguments give the same bytes (random.Random with a fixed seed).
"""
import random
import sys


def vocabulary(r, n, alphabet, longest):
    return ["".join(r.choice(alphabet) for _ in range(r.randint(1, longest))) for _ in range(n)]


def blob(size, r):
    words = vocabulary(r, 5000, "abcdefghijklmnopqrstuvwxyz", 10)
    out = sys.stdout.buffer
    left = size
    while left > 0:
        chunk = (" ".join(r.choices(words, k=100000)) + "\n").encode() + r.randbytes(16384)
        out.write(chunk[:left])
        left -= min(left, len(chunk))


def lines(n, r):
    words = vocabulary(r, 20000, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789", 12)
    out = sys.stdout
    for start in range(0, n, 100000):
        k = min(100000, n - start)
        a = r.choices(words, k=k)
        b = r.choices(words, k=k)
        out.write("".join(f"{x} {r.randrange(1000000)}\t{y}\n" for x, y in zip(a, b)))


def main():
    kind, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    r = random.Random(seed)
    {"blob": blob, "lines": lines}[kind](count, r)


if __name__ == "__main__":
    main()
