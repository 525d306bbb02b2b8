"""The l1norm demo in PyTorch, for timing only: same model (RNNCell(1, 1,
relu, no bias) after |x| = where(x < 0, -x, x)), same data (batch 32,
lengths 1..10, N(0, 1)), Adam lr 1e-3, MSE. Each sequence runs to its own
length, as ag's does, by keeping the old state past the end.
The notebook's own version (zero padding, no masking: fewer ops, but the
padding changes results) is timed too, as step_padded_us.
Prints one line: 'torch step_us=V step_padded_us=V forward10k_ms=V steps=N'."""
import os
import sys
import time

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
import torch  # noqa: E402

torch.set_num_threads(threads)
torch.manual_seed(42)
cell = torch.nn.RNNCell(1, 1, bias=False, nonlinearity="relu")
optimizer = torch.optim.Adam(cell.parameters(), lr=1e-3)
loss_fn = torch.nn.MSELoss()


def forward(x, lengths, masked=True):
    h = torch.zeros(x.shape[0], 1)
    a = torch.where(x < 0, -x, x)
    for t in range(x.shape[1]):
        h_next = cell(a[:, t : t + 1], h)
        h = torch.where((lengths > t).unsqueeze(1), h_next, h) if masked else h_next
    return h


def step(masked):
    lengths = torch.randint(1, 11, (32,))
    x = torch.randn(32, 10) * (torch.arange(10).unsqueeze(0) < lengths.unsqueeze(1))
    target = x.abs().sum(1, keepdim=True)
    optimizer.zero_grad()
    loss = loss_fn(forward(x, lengths, masked), target)
    loss.backward()
    optimizer.step()


def time_steps(masked, steps):
    for _ in range(100):
        step(masked)
    start = time.perf_counter()
    for _ in range(steps):
        step(masked)
    return (time.perf_counter() - start) / steps * 1e6


steps = 2000
step_us = time_steps(True, steps)
step_padded_us = time_steps(False, steps)

sequence = torch.randn(1, 10000)
with torch.no_grad():
    start = time.perf_counter()
    forward(sequence, torch.tensor([10000]))
    forward_ms = (time.perf_counter() - start) * 1e3
print(f"torch step_us={step_us:.2f} step_padded_us={step_padded_us:.2f} forward10k_ms={forward_ms:.2f} steps={steps}")
