"""The adding demo's training step in PyTorch, for timing only: IRNN (ReLU
nn.RNN, hidden 100, W_hh = I, W_ih ~ N(0, 0.001^2), biases 0), or nn.LSTM or
nn.GRU (PyTorch's init), Linear(100, 1) on the last state, MSE, Adam lr 1e-4,
gradient-norm clipping at 1, batch 16.
Usage: adding.py [MODEL:]T [threads], MODEL irnn (default), lstm or gru.
Prints 'torch T=N step_ms=V'."""
import os
import sys
import time

model, _, T_text = sys.argv[1].rpartition(":")
T = int(T_text)
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
import torch  # noqa: E402

torch.set_num_threads(threads)
torch.manual_seed(0)
if model in ("", "irnn"):
    rnn = torch.nn.RNN(2, 100, nonlinearity="relu", batch_first=True)
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(torch.eye(100))
        rnn.weight_ih_l0.normal_(0, 0.001)
        rnn.bias_ih_l0.zero_()
        rnn.bias_hh_l0.zero_()
else:
    rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[model](2, 100, batch_first=True)
readout = torch.nn.Linear(100, 1)
params = list(rnn.parameters()) + list(readout.parameters())
optimizer = torch.optim.Adam(params, lr=1e-4)


def batch():
    values = torch.rand(16, T)
    markers = torch.zeros(16, T)
    first = torch.randint(0, T // 2, (16,))
    second = torch.randint(T // 2, T, (16,))
    rows = torch.arange(16)
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


for _ in range(10):
    step()
steps = 100
start = time.perf_counter()
for _ in range(steps):
    step()
print(f"torch T={T} step_ms={(time.perf_counter() - start) / steps * 1e3:.3f}")
