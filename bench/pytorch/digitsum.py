"""The digitsum demo's training epoch in PyTorch, for timing only: all 10^4
length-4 digit strings, 8,000 of them for training, batch 64, teacher
forcing over one-hot inputs d_1..d_4 EOS a_1..a_m (right-padded), nn.LSTM or
nn.RNN (tanh), hidden 128, Linear(128, 12) on every state, cross-entropy on
the states that should emit a_1..a_m EOA, Adam lr 1e-3.
Usage: digitsum.py lstm|rnn [threads]. Times the second epoch (the first
warms up) and prints 'torch model=M epoch_seconds=V'."""
import os
import sys
import time

model_name = sys.argv[1]
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(threads)
torch.manual_seed(42)
SYMBOLS, EOS, EOA, HIDDEN, BATCH = 12, 10, 11, 128, 64

sequences = [[int(c) for c in f"{i:04d}"] for i in range(10000)]
order = torch.randperm(len(sequences))
train = [sequences[i] for i in order[:8000]]
steps = max(len(d) + len(str(sum(d))) + 1 for d in train)
inputs = torch.full((len(train), steps), EOA, dtype=torch.long)
targets = torch.full((len(train), steps), -100, dtype=torch.long)
for row, digits in enumerate(train):
    answer = [int(c) for c in str(sum(digits))]
    read = digits + [EOS] + answer
    inputs[row, : len(read)] = torch.tensor(read)
    targets[row, len(digits) : len(read)] = torch.tensor(answer + [EOA])

layer_type = torch.nn.LSTM if model_name == "lstm" else torch.nn.RNN
layer = layer_type(SYMBOLS, HIDDEN, batch_first=True)
readout = torch.nn.Linear(HIDDEN, SYMBOLS)
params = list(layer.parameters()) + list(readout.parameters())
optimizer = torch.optim.Adam(params, lr=1e-3)


def epoch():
    permutation = torch.randperm(len(train))
    for start in range(0, len(train), BATCH):
        index = permutation[start : start + BATCH]
        x = F.one_hot(inputs[index], SYMBOLS).float()
        states, _ = layer(x)
        loss = F.cross_entropy(readout(states).reshape(-1, SYMBOLS), targets[index].reshape(-1), ignore_index=-100)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


epoch()
start = time.perf_counter()
epoch()
print(f"torch model={model_name} epoch_seconds={time.perf_counter() - start:.4f}")
