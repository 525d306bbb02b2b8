"""The adding demo's training step in PyTorch, for timing only: IRNN (ReLU
nn.RNN, hidden H, W_hh = I, W_ih ~ N(0, 0.001^2), biases 0), or nn.LSTM or
nn.GRU (PyTorch's init), Linear(H, 1) on the last state, MSE, Adam lr 1e-4,
gradient-norm clipping at 1, batch B (H 100 and B 16 by default: the demo's).
Usage: adding.py [--steps N] [--warmup N] [MODEL:]T[:H[:B]] [threads]
MODEL irnn (default), lstm or gru; N timed steps (default 100) after the
warm-up ones (default 10); the flags may come anywhere.
Prints 'torch T=N H=N B=N step_ms=V'."""
import os
import sys
import time

args = sys.argv[1:]
counts = {"--steps": 100, "--warmup": 10}
for flag in counts:
    while flag in args:
        i = args.index(flag)
        counts[flag] = int(args[i + 1])
        del args[i : i + 2]
fields = args[0].split(":")
model = fields.pop(0) if not fields[0].isdigit() else ""
T = int(fields[0])
H = int(fields[1]) if len(fields) > 1 else 100
B = int(fields[2]) if len(fields) > 2 else 16
threads = int(args[1]) if len(args) > 1 else 1
os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
import torch  # noqa: E402

torch.set_num_threads(threads)
torch.manual_seed(0)
if model in ("", "irnn"):
    rnn = torch.nn.RNN(2, H, nonlinearity="relu", batch_first=True)
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(torch.eye(H))
        rnn.weight_ih_l0.normal_(0, 0.001)
        rnn.bias_ih_l0.zero_()
        rnn.bias_hh_l0.zero_()
else:
    rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[model](2, H, batch_first=True)
readout = torch.nn.Linear(H, 1)
params = list(rnn.parameters()) + list(readout.parameters())
optimizer = torch.optim.Adam(params, lr=1e-4)


def batch():
    values = torch.rand(B, T)
    markers = torch.zeros(B, T)
    first = torch.randint(0, T // 2, (B,))
    second = torch.randint(T // 2, T, (B,))
    rows = torch.arange(B)
    markers[rows, first] = 1
    markers[rows, second] = 1
    target = (values[rows, first] + values[rows, second]).unsqueeze(1)
    return torch.stack([values, markers], 2), target


def step():
    x, target = batch()
    optimizer.zero_grad()
    output, _ = rnn(x)
    loss = torch.nn.functional.mse_loss(readout(output[:, -1]), target)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    optimizer.step()


for _ in range(counts["--warmup"]):
    step()
steps = counts["--steps"]
start = time.perf_counter()
for _ in range(steps):
    step()
print(f"torch T={T} H={H} B={B} step_ms={(time.perf_counter() - start) / steps * 1e3:.3f}")
