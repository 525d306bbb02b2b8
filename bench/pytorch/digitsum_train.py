#!/usr/bin/python3
"""bin/digitsum train's recipe in PyTorch, for comparing accuracy over seeds
(bench/digitsum_seeds.sh). bench/pytorch/digitsum.py times one epoch and
keeps no validation set; this trains and validates as the demo does:

  data      a digit-sum CSV (digits,sum), e.g. data/seq_len_4_only.csv;
  split     a seeded shuffle, the first int(0.8 n) rows train, the rest
            validate (the demo's --split 0.8; PyTorch's generator, not
            ag's, so the two frameworks draw different splits);
  model     tests/fixtures/torch_models.py's DigitSum: LSTMCell(12, H) or
            RNNCell(12, H, tanh) on one-hot symbols, Linear(H, 12), PyTorch's
            default init; hidden 128;
  training  each epoch a new shuffle cut into batches of 64 that mix
            lengths; teacher-forced cross-entropy, the mean over every scored
            symbol of the batch (as digitsum_loss); Adam lr 1e-3, defaults
            otherwise;
  metrics   after every epoch: the mean training loss over the epoch's
            batches (weighted by batch size), the validation loss and the
            exact-match accuracy of greedy decoding (at most 4 symbols; right
            when the answer is followed by EOA), as bin/digitsum reports them.

Usage: digitsum_train.py --data FILE --model lstm|rnn --seed S [--epochs 50]
           [--hidden 128] [--batch 64] [--lr 1e-3] [--split 0.8] --out CSV
Writes CSV rows epoch,loss,val_loss,val_acc,seconds (as ag's metrics.csv)
and prints a summary line. One thread (OPENBLAS_NUM_THREADS and torch)."""
import argparse
import os
import sys
import time

os.environ["OPENBLAS_NUM_THREADS"] = "1"
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures"))
import torch_models as tm  # noqa: E402

torch.set_num_threads(1)
EOS, EOA, SYMBOLS, MAX_ANSWER = tm.EOS, tm.EOA, tm.SYMBOLS, tm.MAX_ANSWER


def read_csv(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line == "digits,sum":
                continue
            digits, total = line.split(",")
            assert tm.answer_of(digits) == total, line
            rows.append(digits)
    return rows


class Batch:
    """A padded batch: symbols [n, steps] (d_1..d_L EOS a_1..a_m, EOA after
    the end, never scored) and the flat indices (row * steps + position) of
    the scored states with their targets a_1..a_m EOA."""

    def __init__(self, examples):
        reads = [[int(c) for c in d] + [EOS] + [int(c) for c in tm.answer_of(d)] for d in examples]
        self.n, self.steps = len(examples), max(len(r) for r in reads)
        self.symbols = torch.full((self.n, self.steps), EOA, dtype=torch.long)
        scored, targets = [], []
        for i, (d, r) in enumerate(zip(examples, reads)):
            self.symbols[i, :len(r)] = torch.tensor(r)
            answer = [int(c) for c in tm.answer_of(d)] + [EOA]
            scored += [i * self.steps + len(d) + j for j in range(len(answer))]
            targets += answer
        self.scored, self.targets = torch.tensor(scored), torch.tensor(targets)


def batch_loss(model, batch):
    """The teacher-forced loss of a padded batch: the cell runs over every
    position (a row's padding comes after its last scored state, so it
    changes nothing that is scored)."""
    cell = model.cell()
    state = tm.zero_state(cell, batch.n, torch.float32)
    x = F.one_hot(batch.symbols, SYMBOLS).float()
    states = []
    for t in range(batch.steps):
        state = cell(x[:, t], state)
        states.append(model.hidden_of(state))
    h = torch.stack(states, 1).reshape(batch.n * batch.steps, -1)
    return F.cross_entropy(model.linear(h[batch.scored]), batch.targets)


@torch.no_grad()
def decode_correct(model, examples):
    """How many examples (all of one input length) greedy decoding gets
    exactly right, answer then EOA, as digitsum_decode."""
    cell, n = model.cell(), len(examples)
    state = tm.zero_state(cell, n, torch.float32)
    for t in range(len(examples[0])):
        state = cell(F.one_hot(torch.tensor([int(d[t]) for d in examples]), SYMBOLS).float(), state)
    symbol = torch.full((n,), EOS, dtype=torch.long)
    emitted = []
    for _ in range(MAX_ANSWER):
        state = cell(F.one_hot(symbol, SYMBOLS).float(), state)
        symbol = model.linear(model.hidden_of(state)).argmax(1)
        emitted.append(symbol)
    emitted = torch.stack(emitted, 1).tolist()
    right = 0
    for d, e in zip(examples, emitted):
        want = [int(c) for c in tm.answer_of(d)] + [EOA]
        right += e[:len(want)] == want
    return right


@torch.no_grad()
def evaluate(model, val, batch_size):
    by_length = {}
    for d in val:
        by_length.setdefault(len(d), []).append(d)
    loss_sum, right = 0.0, 0
    for group in by_length.values():
        for i in range(0, len(group), batch_size):
            chunk = group[i:i + batch_size]
            loss_sum += float(batch_loss(model, Batch(chunk))) * len(chunk)
            right += decode_correct(model, chunk)
    return loss_sum / len(val), right / len(val)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--model", choices=["lstm", "rnn"], required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--split", type=float, default=0.8)
    p.add_argument("--out", required=True)
    args = p.parse_args()

    torch.manual_seed(args.seed)
    data = read_csv(args.data)
    order = torch.randperm(len(data)).tolist()
    n_train = int(args.split * len(data))
    train = [data[i] for i in order[:n_train]]
    val = [data[i] for i in order[n_train:]]
    model = tm.DigitSum(args.model, args.hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)

    # The padded batch computes what the per-example reference computes.
    probe = train[:args.batch]
    with torch.no_grad():
        a, b = float(batch_loss(model, Batch(probe))), float(model.loss(probe))
    assert abs(a - b) <= 1e-5 * abs(b), (a, b)

    start = time.perf_counter()
    with open(args.out + ".tmp", "w") as out:
        out.write("epoch,loss,val_loss,val_acc,seconds\n")
        for epoch in range(1, args.epochs + 1):
            epoch_start = time.perf_counter()
            permutation = torch.randperm(n_train).tolist()
            loss_sum = 0.0
            for i in range(0, n_train, args.batch):
                batch = Batch([train[j] for j in permutation[i:i + args.batch]])
                optimizer.zero_grad()
                loss = batch_loss(model, batch)
                loss.backward()
                optimizer.step()
                loss_sum += float(loss) * batch.n
            seconds = time.perf_counter() - epoch_start
            val_loss, val_acc = evaluate(model, val, args.batch)
            out.write("%d,%.9g,%.9g,%.6g,%.4f\n" % (epoch, loss_sum / n_train, val_loss, val_acc, seconds))
            out.flush()
    os.replace(args.out + ".tmp", args.out)
    print("summary: framework=pytorch model=%s seed=%d epochs=%d val_acc=%.4f val_loss=%.6f seconds=%.2f"
          % (args.model, args.seed, args.epochs, val_acc, val_loss, time.perf_counter() - start))


if __name__ == "__main__":
    main()
