"""Load a checkpoint written by ag (ag_params_save, or a demo's
RUN/model.safetensors) into PyTorch, with torch and the standard library only
(no safetensors package needed).

ag names parameters as PyTorch does, PREFIX.NAME ("rnn.weight_ih",
"linear.bias"), with PyTorch's shapes and layouts, so a module built like the
model takes its part of the checkpoint as it is:

    import torch
    from load_in_pytorch import load_ag_checkpoint, load_ag_metadata, submodule

    path = "runs/adding-20261123-223910/model.safetensors"
    tensors = load_ag_checkpoint(path)        # {"rnn.weight_ih": tensor, ...}
    hidden = int(load_ag_metadata(path)["hidden"])  # the run's flags
    rnn = torch.nn.RNNCell(2, hidden, nonlinearity="relu")
    rnn.load_state_dict(submodule(tensors, "rnn"))  # keys without "rnn."
    linear = torch.nn.Linear(hidden, 1)
    linear.load_state_dict(submodule(tensors, "linear"))

submodule() keeps only the names under one prefix, so tensors of other
modules and a training checkpoint's "optimizer.*" state are left out. For a
torch.nn.Module whose attributes carry ag's prefixes (self.rnn, self.linear):

    own = model.state_dict()
    model.load_state_dict({k: v for k, v in tensors.items() if k in own})
"""
import json
import struct

import torch

_DTYPES = {"F32": ("f", torch.float32), "F64": ("d", torch.float64),
           "I32": ("i", torch.int32), "I64": ("q", torch.int64)}


def _header(f):
    (n,) = struct.unpack("<Q", f.read(8))
    return json.loads(f.read(n))


def load_ag_checkpoint(path):
    """Every tensor of a safetensors file: {name: tensor} (a copy, float32 for ag's parameters)."""
    with open(path, "rb") as f:
        header, data = _header(f), f.read()
    tensors = {}
    for name, info in header.items():
        if name != "__metadata__":
            (begin, end), (code, dtype) = info["data_offsets"], _DTYPES[info["dtype"]]
            values = struct.unpack("<%d%s" % ((end - begin) // struct.calcsize(code), code), data[begin:end])
            tensors[name] = torch.tensor(values, dtype=dtype).reshape(info["shape"])
    return tensors


def load_ag_metadata(path):
    """The file's __metadata__: {key: string}; a demo's run stores its flags (params.csv) there.
    ag also keeps its checksum there ("ag.crc32c", and in a training checkpoint the run's id,
    "ag.run_id"): drop "ag.crc32c" before saving a file of your own with this metadata, or ag
    will refuse that file as damaged."""
    with open(path, "rb") as f:
        return _header(f).get("__metadata__", {})


def submodule(tensors, prefix):
    """The tensors named PREFIX.NAME, as {NAME: tensor}: the state_dict of the module called PREFIX."""
    return {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
