#!/usr/bin/env python3
"""The cost model of docs/distributed.md: when does data-parallel training
over N hosts pay, for the adding IRNN, the digit-sum LSTM and the char LM?

Inputs, measured on this machine (bench/batch_sizes.sh, one thread):
  - MEASURED: the time of one training step on one core for a batch of b
    rows (sequences, or streams for the char LM), read between the measured
    batches by straight lines, past the largest by the last line's slope,
    and below the smallest as the smallest's time (a smaller batch is not
    faster there: the weights are read all the same);
  - PARAMS: each model's parameter count (4 bytes each).
Network: bandwidth 10 or 100 Gbit/s, latency ALPHA per message.

Exchange times for P parameters (B = 4P bytes, beta = bytes/s):
  ring all-reduce (MPI_Allreduce, order depends on N):
      2 (N - 1) / N * B / beta + 2 (N - 1) alpha
  ag's ordered exchange (the same bytes for any N): a pipelined chain
  through the N hosts, then a broadcast of the total:
      2 B / beta + (N - 1) min(S, B) / beta + 2 (N - 1) alpha   (S = 256 KiB segments)
A step on N hosts takes T(b / N) + exchange (each host runs b / N rows);
the speed-up is T(b) / that. Prints Markdown tables.
"""
import os

# Milliseconds per step on one core against the batch, written by
# bench/batch_sizes.sh.
NAMES = {"adding": "adding IRNN T=150 H=100", "digitsum": "digit-sum LSTM H=128",
         "charlm": "char LM 2x256 LSTM, 64 chars"}


def measured(path):
    points = {}
    with open(path) as f:
        next(f)
        for line in f:
            model, batch, ms = line.strip().split(",")
            points.setdefault(NAMES[model], []).append((int(batch), float(ms)))
    return {name: sorted(p) for name, p in points.items()}


PARAMS = {
    "adding IRNN T=150 H=100": 10501,
    "digit-sum LSTM H=128": 74252,
    "char LM 2x256 LSTM, 64 chars": 892658,
}
ALPHA = 50e-6  # seconds per message over TCP between hosts (loopback measured 20-40 us)
SEGMENT = 256 * 1024


def step_seconds(points, b):
    """T(b), from the measured points (see the top)."""
    if b <= points[0][0]:
        return points[0][1] / 1e3
    for (b0, t0), (b1, t1) in zip(points, points[1:]):
        if b <= b1:
            return (t0 + (t1 - t0) * (b - b0) / (b1 - b0)) / 1e3
    (b0, t0), (b1, t1) = points[-2], points[-1]
    return (t1 + (t1 - t0) * (b - b1) / (b1 - b0)) / 1e3


def ring(p, n, beta):
    return 2 * (n - 1) / n * 4 * p / beta + 2 * (n - 1) * ALPHA


def ordered(p, n, beta):
    return 2 * 4 * p / beta + (n - 1) * min(SEGMENT, 4 * p) / beta + 2 * (n - 1) * ALPHA


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    MEASURED = measured(os.path.join(here, "results-batch.csv"))
    print("| model | params | step on one core, ms: b = 32 / 128 | exchange, ms: N=2 / 4 / 8 at 10 Gbit/s | at 100 Gbit/s | ring all-reduce at 10 Gbit/s |")
    print("|---|---:|---|---|---|---|")
    for name, points in MEASURED.items():
        p = PARAMS[name]
        cells = []
        for beta in (10e9 / 8, 100e9 / 8):
            cells.append(" / ".join("%.2f" % (1e3 * ordered(p, n, beta)) for n in (2, 4, 8)))
        ring10 = " / ".join("%.2f" % (1e3 * ring(p, n, 10e9 / 8)) for n in (2, 4, 8))
        steps = "%.1f / %.1f" % (1e3 * step_seconds(points, 32), 1e3 * step_seconds(points, 128))
        print("| %s | %s | %s | %s | %s | %s |" % (name, f"{p:,}", steps, cells[0], cells[1], ring10))
    print()
    for gbit in (10, 100):
        beta = gbit * 1e9 / 8
        print(f"Speed-up over one host, {gbit} Gbit/s, ag's ordered exchange (smallest global batch b where N hosts reach 75% efficiency):")
        print()
        print("| model | b=32: N=2 / 4 / 8 | b=128 | b=512 | 75% efficiency from b = (N=2 / 4 / 8) |")
        print("|---|---|---|---|---|")
        for name, points in MEASURED.items():
            p = PARAMS[name]
            def speedup(b, n):
                return step_seconds(points, b) / (step_seconds(points, b / n) + ordered(p, n, beta))
            cells = [" / ".join("%.2f" % speedup(b, n) for n in (2, 4, 8)) for b in (32, 128, 512)]
            need = []
            for n in (2, 4, 8):
                b = next((b for b in range(n, 65537, n) if speedup(b, n) >= 0.75 * n), None)
                need.append(str(b) if b else "never")
            print("| %s | %s | %s | %s | %s |" % (name, cells[0], cells[1], cells[2], " / ".join(need)))
        print()


if __name__ == "__main__":
    main()
