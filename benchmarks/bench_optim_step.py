"""How long one optimizer step takes, next to the cost of just touching the memory.

For 10^3, 10^5 and 10^6 float64 parameters: the median time of one `opt.step`
of each optlessons.optim class (typical options), and as a yardstick the time
of `a + b` and of `a.copy()` on arrays of that size, so "a step costs a small
multiple of reading and writing the arrays" can be checked. If torch can be
imported, the same torch.optim step on the same data (single-threaded, in
place, as PyTorch does it) and the ratio optlessons / torch.

    python -m benchmarks optim_step

The update functions are pure: each step allocates its results (new θ and new
buffers) and a few temporaries, where torch updates in place. Where fresh
memory is expensive (glibc hands big freed blocks back to the OS, and page
faults are slow in some VMs and sandboxes) that allocation can dominate; try
`MALLOC_TRIM_THRESHOLD_=1000000000 MALLOC_MMAP_THRESHOLD_=1000000000` to see
the arithmetic alone.
"""

import numpy as np

from benchmarks.timing import median_seconds, optional_torch, threads_line
from optlessons import optim

SIZES = (10**3, 10**5, 10**6)
CASES = [   # (label, class name, keyword arguments): the same for optlessons and torch
    ("SGD(momentum=0.9)", "SGD", {"lr": 1e-3, "momentum": 0.9}),
    ("Adagrad()", "Adagrad", {}),
    ("RMSprop()", "RMSprop", {}),
    ("Adadelta()", "Adadelta", {}),
    ("Adam()", "Adam", {}),
    ("Adam(amsgrad=True)", "Adam", {"amsgrad": True}),
    ("AdamW()", "AdamW", {}),
    ("NAdam()", "NAdam", {}),
    ("RAdam()", "RAdam", {}),
    ("Adamax()", "Adamax", {}),
]


def optlessons_step(class_name, kwargs, param, grad):
    opt = getattr(optim, class_name)(**kwargs)
    return lambda: opt.step(param, grad)


def torch_step(torch, class_name, kwargs, param, grad):
    p = torch.nn.Parameter(torch.from_numpy(param.copy()))
    p.grad = torch.from_numpy(grad.copy())
    opt = getattr(torch.optim, class_name)([p], foreach=False, **kwargs)
    return opt.step


def table(n, torch=None, min_time=0.02):
    """The markdown table for `n` parameters, as a list of lines."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=n), rng.normal(size=n)
    add = median_seconds(lambda: a + b, min_time)
    copy = median_seconds(a.copy, min_time)
    head = "| step | µs | ÷ (a + b) |" + (" torch µs | optlessons / torch |" if torch else "")
    rule = "|---|--:|--:|" + ("--:|--:|" if torch else "")
    lines = [f"**{n:,} parameters** (float64)", "", head, rule,
             f"| `a + b` | {add * 1e6:,.1f} | 1.0 |" + (" | |" if torch else ""),
             f"| `a.copy()` | {copy * 1e6:,.1f} | {copy / add:.1f} |" + (" | |" if torch else "")]
    for label, class_name, kwargs in CASES:
        ours = median_seconds(optlessons_step(class_name, kwargs, a, b), min_time)
        row = f"| {label} | {ours * 1e6:,.1f} | {ours / add:.1f} |"
        if torch:
            theirs = median_seconds(torch_step(torch, class_name, kwargs, a, b), min_time)
            row += f" {theirs * 1e6:,.1f} | {ours / theirs:.1f} |"
        lines.append(row)
    return lines


def main(sizes=SIZES):
    torch = optional_torch()
    print("Median CPU time of one step; `÷ (a + b)` is that time over the time of adding two "
          "arrays of the same size (one pass writing a new array).")
    print(threads_line())
    if torch:
        print(f"torch {torch.__version__}, 1 thread, foreach=False (its default on CPU), in place.")
    else:
        print("(torch not importable: no torch columns)")
    for n in sizes:
        print()
        print("\n".join(table(n, torch)))


if __name__ == "__main__":
    main()
