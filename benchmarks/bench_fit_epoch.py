"""How long one epoch of training takes: an MLP on the shipped digits with Adam.

`optlessons.train.fit` for one epoch of `MLP(64, hidden=(64,), 10)` (ReLU,
float64) on the 1,259 training images of `data.load_digits()`, with
`optim.Adam(lr=1e-3)`, mini-batches of 32 and 128 (and the full batch). The
epoch includes fit's end-of-epoch evaluation on the training and validation
sets. Median of several runs. If torch can be imported, the same network,
batch size and optimizer in torch (float64, 1 thread, a plain training loop
with a shuffle per epoch, and the same evaluation passes) and the ratio
optlessons / torch.

    python -m benchmarks fit_epoch
    OPENBLAS_NUM_THREADS=1 python -m benchmarks fit_epoch     # numpy on one thread, like torch here

These matrices are small (at most 1,259 x 64): numpy's multi-threaded BLAS
gains nothing on them and, on a busy 2-core machine, lost up to 10x to
thread hand-offs, so the line above the table says how many BLAS threads
numpy was allowed.
"""

import numpy as np

from benchmarks.timing import median_seconds, optional_torch, threads_line
from optlessons import data, models, optim, train

BATCH_SIZES = (32, 128, None)
HIDDEN = (64,)


def optlessons_epoch(s, batch_size):
    model = models.MLP(s.n_features, HIDDEN, s.n_classes, activation="relu")
    rng = np.random.default_rng(0)
    params = model.init(rng)

    def one_epoch():
        train.fit(model, params, optim.Adam(lr=1e-3), s.X_train, s.y_train, X_val=s.X_val, y_val=s.y_val,
                  epochs=1, batch_size=batch_size, rng=rng)
    return one_epoch


def torch_epoch(torch, s, batch_size):
    torch.manual_seed(0)
    X, y = torch.from_numpy(s.X_train), torch.from_numpy(s.y_train)
    X_val, y_val = torch.from_numpy(s.X_val), torch.from_numpy(s.y_val)
    n = len(y)
    batch_size = batch_size or n
    net = torch.nn.Sequential(torch.nn.Linear(s.n_features, HIDDEN[0]), torch.nn.ReLU(),
                              torch.nn.Linear(HIDDEN[0], s.n_classes)).double()
    loss_fn = torch.nn.CrossEntropyLoss()

    def one_epoch():
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, foreach=False)
        order = torch.randperm(n)
        Xs, ys = X[order], y[order]
        for begin in range(0, n, batch_size):
            opt.zero_grad()
            loss = loss_fn(net(Xs[begin:begin + batch_size]), ys[begin:begin + batch_size])
            loss.backward()
            opt.step()
        with torch.no_grad():                     # the evaluation fit does at the end of an epoch
            for A, b in ((X, y), (X_val, y_val)):
                logits = net(A)
                float(loss_fn(logits, b)), float((logits.argmax(1) == b).double().mean())
    return one_epoch


def main(repeats=5):
    s = data.load_digits()
    torch = optional_torch()
    print(f"One epoch of MLP(64, hidden={HIDDEN}, 10), ReLU, float64, Adam(lr=1e-3) on "
          f"{len(s.y_train):,} digits (plus the end-of-epoch evaluation); median CPU time of {repeats} runs.")
    print(threads_line())
    if torch:
        print(f"torch {torch.__version__}, 1 thread, foreach=False.")
    else:
        print("(torch not importable: no torch columns)")
    print()
    head = "| batch size | steps | optlessons ms | µs / step |" + (" torch ms | optlessons / torch |" if torch else "")
    rule = "|--:|--:|--:|--:|" + ("--:|--:|" if torch else "")
    print(head)
    print(rule)
    for batch_size in BATCH_SIZES:
        steps = -(-len(s.y_train) // (batch_size or len(s.y_train)))
        ours = median_seconds(optlessons_epoch(s, batch_size), min_time=0, repeats=repeats)
        row = f"| {batch_size or 'full'} | {steps} | {ours * 1e3:,.1f} | {ours / steps * 1e6:,.0f} |"
        if torch:
            theirs = median_seconds(torch_epoch(torch, s, batch_size), min_time=0, repeats=repeats)
            row += f" {theirs * 1e3:,.1f} | {ours / theirs:.1f} |"
        print(row)


if __name__ == "__main__":
    main()
