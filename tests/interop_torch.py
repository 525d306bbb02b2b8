#!/usr/bin/python3
"""For tests/interop_torch.sh: loads each demo run's model.safetensors into
PyTorch with docs/load_in_pytorch.py, builds the matching torch module
(tests/fixtures/torch_models.py) from the run's metadata (its flags), runs it
on the inputs ag was given (RUN/ag.json, written by tests/interop_torch.c)
and compares with ag's outputs: 1e-5 relative, 1e-6 absolute, as
tests/test_interop.c (both sides compute in float32, in different orders).
Greedy digit-sum answers are compared where PyTorch's best logit beats the
second by at least 1e-3 at every step.

    /usr/bin/python3 tests/interop_torch.py RUN_DIR...

Prints "ok RUN: ..." or "FAIL RUN: ..." for each run; exits 1 if any failed.
"""
import json
import os
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(ROOT, "docs"))
sys.path.insert(0, os.path.join(ROOT, "tests", "fixtures"))
from load_in_pytorch import load_ag_checkpoint, load_ag_metadata, submodule  # noqa: E402
import torch_models as tm  # noqa: E402

torch.set_num_threads(1)
REL, ABS, MARGIN = 1e-5, 1e-6, 1e-3


class Mismatch(Exception):
    pass


def compare(what, got, want):
    """got: torch's values, want: ag's; returns the largest difference as a
    share of the tolerance."""
    got = got.detach().double().reshape(-1)
    want = torch.tensor(want, dtype=torch.float64).reshape(-1)
    if got.shape != want.shape:
        raise Mismatch("%s: %d values from PyTorch, %d from ag" % (what, got.numel(), want.numel()))
    bound = ABS + REL * torch.maximum(got.abs(), want.abs())
    bad = ((got - want).abs() > bound).nonzero()
    if len(bad):
        i = int(bad[0])
        raise Mismatch("%s[%d]: PyTorch %.9g, ag %.9g" % (what, i, got[i], want[i]))
    return float(((got - want).abs() / bound).max())


def build(meta):
    demo = meta["demo"]
    if demo == "l1norm":
        return tm.L1Norm(bias=meta["bias"] == "1")
    if demo == "adding":
        return tm.Adding(meta["model"], int(meta["hidden"]))
    return tm.DigitSum(meta["model"], int(meta["hidden"]))


def check_run(run):
    path = os.path.join(run, "model.safetensors")
    tensors, meta = load_ag_checkpoint(path), load_ag_metadata(path)
    with open(os.path.join(run, "ag.json")) as f:
        ag = json.load(f)
    model = build(meta)
    own = model.state_dict()
    if sorted(tensors) != sorted(own):
        raise Mismatch("tensors %s, the torch module has %s" % (sorted(tensors), sorted(own)))
    if meta["demo"] == "adding":
        # module by module, as docs/interop-section.md shows
        model.cell().load_state_dict(submodule(tensors, tm.ADDING_CELLS[meta["model"]]))
        model.linear.load_state_dict(submodule(tensors, "linear"))
    else:
        model.load_state_dict({k: v for k, v in tensors.items() if k in own})
    notes = []
    # A training checkpoint, where the demo wrote one: what the module does
    # not have (optimizer.* state, ...) is skipped and the rest loads.
    training = os.path.join(run, "checkpoint.safetensors")
    if os.path.exists(training):
        saved = load_ag_checkpoint(training)
        build(meta).load_state_dict({k: v for k, v in saved.items() if k in own})
        notes.append("checkpoint.safetensors loads, skipping %s" % ", ".join(sorted(k for k in saved if k not in own)))

    worst = 0.0
    with torch.no_grad():
        if meta["demo"] == "digitsum":
            for i, (digits, logits) in enumerate(zip(ag["digits"], ag["logits"])):
                worst = max(worst, compare("logits of %s" % digits, model.teacher_logits(digits), logits))
                worst = max(worst, compare("loss of %s" % digits, model.loss([digits]), ag["loss"][i]))
            worst = max(worst, compare("loss of the batch", model.loss(ag["digits"]), ag["batch_loss"]))
            compared = 0
            for digits, answer in zip(ag["digits"], ag["answers"]):
                want, margin = model.decode(digits)
                if margin >= MARGIN:
                    compared += 1
                    if want != answer:
                        raise Mismatch("%s decodes as '%s' in PyTorch, '%s' in ag" % (digits, want, answer))
            notes.append("%d of %d greedy answers compared" % (compared, len(ag["digits"])))
        else:
            x = torch.tensor(ag["x"]).reshape(ag["shape"])
            if meta["demo"] == "l1norm":
                x = x[:, :, 0]
                worst = compare("long sequence", model(torch.tensor([ag["long_x"]]), [len(ag["long_x"])]),
                                ag["long_out"])
            worst = max(worst, compare("outputs", model(x, ag["lengths"]), ag["out"]))
    return "%s %s: %s; largest difference %.3f of the tolerance" % (
        meta["demo"], meta.get("model", "bias=" + meta.get("bias", "?")), ", ".join(["agree"] + notes), worst)


def main():
    failed = 0
    for run in sys.argv[1:]:
        try:
            print("ok %s: %s" % (run, check_run(run)))
        except (Mismatch, KeyError, OSError, ValueError, RuntimeError) as e:
            failed += 1
            print("FAIL %s: %s: %s" % (run, type(e).__name__, e))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
