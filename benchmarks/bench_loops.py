"""What a widget and a range test wait for: `train.minimize`'s own overhead and `search.lr_find`.

    python -m benchmarks loops

minimize: a widget calls it on every slider move, three runs of 200 steps on Rosenbrock; here
with a trivial optimizer (θ − η∇L) so the figure is minimize's own cost, not an optimizer's.
Budget: 60 ms for the three runs. lr_find: the range test of notebook 10 on the digits,
MLP(64, (32,), 10) with SGD. Budget: 5 s (about 0.1 s measured when it was written). Median CPU
time of the repeats (benchmarks.timing); these were timing asserts in the test suite, where a
loaded machine made them flaky and a quiet one made them slow.
"""

from benchmarks.timing import median_seconds, threads_line
from optlessons import data, functions, models, optim, search, train


class GD:
    """θ − η∇L and nothing else: the trivial optimizer that leaves minimize's overhead alone."""

    def __init__(self, lr):
        self.lr = lr

    def step(self, params, grads):
        return params - self.lr * grads


def three_widget_runs():
    f = functions.rosenbrock()
    for lr in (1e-4, 3e-4, 1e-3):
        train.minimize(f, GD(lr), steps=200)


def main(repeats=5):
    digits = data.load_digits(0)
    print(threads_line())
    print()
    print("| what | median ms | budget ms |")
    print("|---|--:|--:|")
    ours = median_seconds(three_widget_runs, min_time=0, repeats=repeats)
    print(f"| minimize, 3 × 200 steps (a widget's redraw) | {ours * 1e3:,.1f} | 60 |")
    ours = median_seconds(lambda: search.lr_find(models.MLP(64, (32,), 10), digits, optim.SGD, rng=0),
                          min_time=0, repeats=repeats)
    print(f"| lr_find on the digits, SGD | {ours * 1e3:,.1f} | 5,000 |")


if __name__ == "__main__":
    main()
