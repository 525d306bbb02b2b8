#!/usr/bin/python3
"""bin/charlm train's recipe in PyTorch (demos/charlm.c), to compare with ag:
Embedding(V, embed) -> nn.LSTM(batch_first, layers, dropout) -> Linear(hidden, V)
over the bytes of a text (the vocabulary: its distinct bytes, sorted). The
first size * 9 // 10 bytes train, cut into --batch contiguous streams read
--seq-len bytes at a time, the state carried (detached) from chunk to chunk
and reset at every epoch; Adam, global gradient-norm clip. The rest
validates: min(n_val // 2, 128) streams read from a zero state in chunks of
--seq-len (the last one shorter), no dropout, mean cross-entropy over every
position, in nats and bits per character.

  charlm.py [--data FILE|DIR] [--init FILE.safetensors | --seed S] [--steps N | --epochs N]
            [--embed --hidden --layers --dropout --batch --seq-len --lr --clip --eval-every]
            [--print-losses] [--time-steps N] [--threads N]

--init starts from the weights of a safetensors file under PyTorch's names
(embed.weight, lstm.weight_ih_l0, ..., linear.bias), e.g. an ag run's
checkpoint.safetensors at step 0; other entries are ignored. Otherwise
torch.manual_seed(--seed) and PyTorch's own init. --print-losses prints
'step N loss L' for every step; the last line is
'summary: steps=... epochs=... val_loss=... val_bpc=... step_ms=... seconds=...'.
--time-steps N times N training steps after 5 of warm-up and prints
'torch charlm step_ms=V' only (for make bench, which appends the thread
count: charlm.py --time-steps 30 1).
PyTorch and the standard library only."""
import argparse
import json
import math
import os
import struct
import time

DEFAULT_TEXT = "/usr/share/games/fortunes"


def load_text(path):
    """A file's bytes, or a directory's regular files (not symlinks, hidden
    files nor .dat indexes) in name order, concatenated: as charlm_text_load."""
    if not os.path.isdir(path):
        with open(path, "rb") as f:
            return f.read()
    names = sorted(n for n in os.listdir(os.fsencode(path))
                   if not n.startswith(b".") and not n.endswith(b".dat")
                   and os.path.isfile(os.path.join(os.fsencode(path), n))
                   and not os.path.islink(os.path.join(os.fsencode(path), n)))
    parts = []
    for n in names:
        with open(os.path.join(os.fsencode(path), n), "rb") as f:
            parts.append(f.read())
    return b"".join(parts)


def read_safetensors(path):
    """{name: float32 tensor} of a safetensors file's F32 entries."""
    import torch
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header, out = json.loads(raw[8:8 + n]), {}
    for name, info in header.items():
        if name != "__metadata__" and info["dtype"] == "F32":
            b, e = info["data_offsets"]
            values = struct.unpack("<%df" % ((e - b) // 4), raw[8 + n + b:8 + n + e])
            out[name] = torch.tensor(values, dtype=torch.float32).reshape(info["shape"])
    return out


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DEFAULT_TEXT)
    p.add_argument("--init", help="initial weights (safetensors, PyTorch's names)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--clip", type=float, default=5.0)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--steps", type=int, default=0, help="training steps instead of --epochs (0: use --epochs)")
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--print-losses", action="store_true")
    p.add_argument("--time-steps", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    # make bench (bench/run.sh) appends the thread count as a last word.
    p.add_argument("bench_threads", nargs="?", type=int, help="threads, as make bench gives them")
    args = p.parse_args(argv)
    if args.bench_threads is not None:
        args.threads = args.bench_threads
    return args


class CharLM:
    """The model, its data and its training loop, as demos/charlm.c."""

    def __init__(self, args, text):
        import torch
        nn = torch.nn
        self.args, self.torch = args, torch
        vocab = sorted(set(text))
        index = {b: i for i, b in enumerate(vocab)}
        tokens = torch.tensor([index[b] for b in text], dtype=torch.long)
        n_train = len(text) * 9 // 10
        n_val = len(text) - n_train
        length = n_train // args.batch
        self.train_streams = tokens[:args.batch * length].reshape(args.batch, length)
        self.chunks = (length - 1) // args.seq_len
        val_streams = min(n_val // 2, 128)
        if self.chunks < 1 or val_streams < 1:
            raise SystemExit("charlm.py: the text (%d bytes) is too short" % len(text))
        val_length = n_val // val_streams
        self.val_streams = tokens[n_train:n_train + val_streams * val_length].reshape(val_streams, val_length)
        torch.manual_seed(args.seed)
        self.embed = nn.Embedding(len(vocab), args.embed)
        self.lstm = nn.LSTM(args.embed, args.hidden, args.layers, batch_first=True, dropout=args.dropout)
        self.linear = nn.Linear(args.hidden, len(vocab))
        self.modules = nn.ModuleDict({"embed": self.embed, "lstm": self.lstm, "linear": self.linear})
        if args.init:
            weights = read_safetensors(args.init)
            names = self.modules.state_dict().keys()
            self.modules.load_state_dict({n: weights[n] for n in names})
        self.params = list(self.modules.parameters())
        # foreach=False: the single-tensor Adam, whose arithmetic ag_adam follows.
        self.optimizer = torch.optim.Adam(self.params, lr=args.lr, foreach=False)
        self.vocab, self.state, self.step_count = vocab, None, 0

    def loss(self, inputs, targets, state):
        """Mean cross-entropy of the chunk and the state after it."""
        out, state = self.lstm(self.embed(inputs), state)
        logits = self.linear(out).reshape(-1, len(self.vocab))
        return self.torch.nn.functional.cross_entropy(logits, targets.reshape(-1)), state

    def train_step(self):
        """One step: chunk step % chunks of every stream; returns its loss."""
        T, k = self.args.seq_len, self.step_count % self.chunks
        if k == 0:
            self.state = None  # zeros: each epoch starts afresh
        x = self.train_streams[:, k * T:k * T + T + 1]
        self.modules.train()
        self.optimizer.zero_grad()
        loss, state = self.loss(x[:, :-1], x[:, 1:], self.state)
        loss.backward()
        self.grad_norm = float(self.torch.nn.utils.clip_grad_norm_(self.params, self.args.clip))
        self.optimizer.step()
        self.state = tuple(s.detach() for s in state)
        self.step_count += 1
        return float(loss)

    def validation_loss(self):
        """Mean cross-entropy (nats) over every position of the validation streams."""
        self.modules.eval()
        total, count, state, T = 0.0, 0, None, self.args.seq_len
        streams, length = self.val_streams.shape
        with self.torch.no_grad():
            for position in range(0, length - 1, T):
                n = min(T, length - 1 - position)
                x = self.val_streams[:, position:position + n + 1]
                loss, state = self.loss(x[:, :-1], x[:, 1:], state)
                total += float(loss) * streams * n
                count += streams * n
        return total / count


def main():
    args = parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    import torch
    torch.set_num_threads(args.threads)
    lm = CharLM(args, load_text(args.data))
    if args.time_steps:
        for _ in range(5):
            lm.train_step()
        start = time.perf_counter()
        for _ in range(args.time_steps):
            lm.train_step()
        print("torch charlm step_ms=%.3f" % ((time.perf_counter() - start) / args.time_steps * 1e3))
        return
    total = args.steps if args.steps > 0 else args.epochs * lm.chunks
    print("charlm.py: %d distinct bytes; %d streams, %d chunks of %d per epoch; %d parameters; %d steps"
          % (len(lm.vocab), args.batch, lm.chunks, args.seq_len, sum(p.numel() for p in lm.params), total), flush=True)
    # step_ms as bin/charlm's: the training loop's time (its validations
    # included) over its steps.
    val_loss, start = float("nan"), time.perf_counter()
    for step in range(1, total + 1):
        loss = lm.train_step()
        if args.print_losses:
            print("step %d loss %.9g" % (step, loss))
        if not math.isfinite(loss):
            raise SystemExit("charlm.py: step %d: the loss is %g" % (step, loss))
        if step % args.eval_every == 0 or step == total:
            val_loss = lm.validation_loss()
            print("step %d loss %.6f val_loss %.6f val_bpc %.4f" % (step, loss, val_loss, val_loss / math.log(2)),
                  flush=True)
    seconds = time.perf_counter() - start
    print("summary: steps=%d epochs=%.3g val_loss=%.6f val_bpc=%.4f params=%d vocab=%d seconds=%.2f step_ms=%.3f"
          % (total, total / lm.chunks, val_loss, val_loss / math.log(2), sum(p.numel() for p in lm.params),
             len(lm.vocab), seconds, 1e3 * seconds / max(total, 1)))


if __name__ == "__main__":
    main()
