"""Models with hand-written backpropagation: linear regression, softmax regression, a small MLP.

Every model is a small object holding only its shape (never its parameters):

    model = MLP(n_features=64, hidden=(32,), n_classes=10, activation="relu")
    params = model.init(rng)                    # dict name -> ndarray, e.g. {"W1", "b1", "W2", "b2"}
    out = model.forward(params, X)              # predictions (regression) or logits (classifiers)
    L = model.loss(params, X, y)                # a float: mean over the batch
    L, grads = model.backward(params, X, y)     # grads keyed like params, same shapes
    model.predict(params, X), model.accuracy(params, X, y)     # classifiers

Parameters live in a plain dict so any ``optlessons.optim`` optimizer can
update them: ``params = opt.step(params, grads)``. Everything is vectorised
over the batch: X has shape (n_samples, n_features). ``backward`` is the chain
rule written out layer by layer, and agrees with ``optlessons.gradcheck``'s
finite differences (the tests check every model).

Losses come from ``optlessons.losses``: mean squared error for regression,
softmax cross-entropy for classifiers.
"""

import numpy as np

from optlessons import losses, argcheck

__all__ = ["LinearRegression", "SoftmaxRegression", "MLP", "ACTIVATIONS"]


class _Model:
    """Shared input checks. Subclasses set n_features and implement forward/backward."""

    n_features: int

    def _check_X(self, X):
        X = np.asarray(X, dtype=float)
        if X.ndim == 1 and self.n_features == 1:
            X = X[:, None]
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
        if X.shape[1] != self.n_features:
            raise ValueError(f"X has {X.shape[1]} features but the model expects n_features={self.n_features}")
        return X

    def _check_y_length(self, X, y):
        if len(y) != len(X):
            raise ValueError(f"X and y have different lengths: {len(X)} samples and {len(y)} targets")

    def _check_params(self, params):
        expected = self.shapes()
        if not isinstance(params, dict) or set(params) != set(expected):
            got = sorted(params) if isinstance(params, dict) else type(params).__name__
            raise ValueError(f"params must be a dict with keys {sorted(expected)}, got {got}")
        for name, shape in expected.items():
            if np.shape(params[name]) != shape:
                raise ValueError(f"params[{name!r}] has shape {np.shape(params[name])}, expected {shape}")

    def loss(self, params, X, y):
        """The mean loss over the batch, a float."""
        return self.backward(params, X, y, need_grads=False)[0]

    def n_params(self):
        """Number of scalar parameters."""
        return int(sum(np.prod(s, dtype=int) for s in self.shapes().values()))


class _Classifier(_Model):
    n_classes: int

    def _check_labels(self, X, y):
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D integer class labels, got shape {y.shape}")
        self._check_y_length(X, y)
        if y.size and not np.issubdtype(y.dtype, np.integer):
            if np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y)):
                y = y.astype(np.int64)
            else:
                raise ValueError(f"y must hold integer class labels 0..{self.n_classes - 1}, got dtype {y.dtype}")
        if y.size and (y.min() < 0 or y.max() >= self.n_classes):
            raise ValueError(f"labels must lie in 0..{self.n_classes - 1} (n_classes={self.n_classes}), "
                             f"got values from {y.min()} to {y.max()}")
        return y

    def predict(self, params, X):
        """The most likely class for each row of X, int64 (n_samples,)."""
        return np.argmax(self.forward(params, X), axis=1)

    def predict_proba(self, params, X):
        """Softmax probabilities, (n_samples, n_classes)."""
        logits = self.forward(params, X)
        z = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def accuracy(self, params, X, y):
        """Fraction of rows of X whose predicted class equals y."""
        X = self._check_X(X)
        y = self._check_labels(X, y)
        return float(np.mean(self.predict(params, X) == y)) if len(y) else float("nan")


# --------------------------------------------------------------------------- linear regression

class LinearRegression(_Model):
    """y_hat = X @ w + b, trained on the mean squared error ``losses.mse(y_hat, y)``.

    params: ``w`` (n_features,), ``b`` () (a 0-d array). ``init`` draws ``w``
    from N(0, 1 / n_features) and sets ``b = 0``; ``init(rng, zeros=True)`` starts
    from zero.
    """

    def __init__(self, n_features):
        self.n_features = argcheck.integer(n_features, "n_features", 1)

    def __repr__(self):
        return f"LinearRegression(n_features={self.n_features})"

    def shapes(self):
        return {"w": (self.n_features,), "b": ()}

    def init(self, rng, zeros=False):
        rng = argcheck.generator(rng)
        w = np.zeros(self.n_features) if zeros else rng.normal(0.0, 1.0 / np.sqrt(self.n_features), self.n_features)
        return {"w": w, "b": np.zeros(())}

    def forward(self, params, X):
        X = self._check_X(X)
        return X @ params["w"] + params["b"]

    def backward(self, params, X, y, need_grads=True):
        X = self._check_X(X)
        y = np.asarray(y, dtype=float)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        self._check_y_length(X, y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D (n_samples,), got shape {y.shape}")
        self._check_params(params)
        y_hat = X @ params["w"] + params["b"]
        L = float(losses.mse(y_hat, y))
        if not need_grads:
            return L, None
        d_yhat = losses.mse_grad(y_hat, y)               # dL/dy_hat, (n,)
        grads = {"w": X.T @ d_yhat,                       # dL/dw = X^T dL/dy_hat
                 "b": np.asarray(d_yhat.sum())}           # dL/db = sum_i dL/dy_hat_i
        return L, grads


# --------------------------------------------------------------------------- softmax regression

class SoftmaxRegression(_Classifier):
    """Multinomial logistic regression: logits = X @ W + b, loss = softmax cross-entropy.

    params: ``W`` (n_features, n_classes), ``b`` (n_classes,). ``init`` uses
    Xavier/Glorot-uniform weights and zero biases (``zeros=True``: all zero,
    which is fine for this convex model). With n_classes=2 it is logistic
    regression written with two logits.
    """

    def __init__(self, n_features, n_classes):
        self.n_features = argcheck.integer(n_features, "n_features", 1)
        self.n_classes = argcheck.integer(n_classes, "n_classes", 2)

    def __repr__(self):
        return f"SoftmaxRegression(n_features={self.n_features}, n_classes={self.n_classes})"

    def shapes(self):
        return {"W": (self.n_features, self.n_classes), "b": (self.n_classes,)}

    def init(self, rng, zeros=False):
        rng = argcheck.generator(rng)
        if zeros:
            W = np.zeros((self.n_features, self.n_classes))
        else:
            W = _xavier(rng, self.n_features, self.n_classes)
        return {"W": W, "b": np.zeros(self.n_classes)}

    def forward(self, params, X):
        X = self._check_X(X)
        return X @ params["W"] + params["b"]

    def backward(self, params, X, y, need_grads=True):
        X = self._check_X(X)
        y = self._check_labels(X, y)
        self._check_params(params)
        logits = X @ params["W"] + params["b"]
        L = float(losses.softmax_cross_entropy(logits, y))
        if not need_grads:
            return L, None
        d_logits = losses.softmax_cross_entropy_grad(logits, y)   # (softmax - onehot) / n
        return L, {"W": X.T @ d_logits, "b": d_logits.sum(axis=0)}


# --------------------------------------------------------------------------- MLP

def _relu(z):
    return np.maximum(z, 0.0)


def _relu_grad(z, a):
    return (z > 0).astype(float)


def _tanh(z):
    return np.tanh(z)


def _tanh_grad(z, a):
    return 1.0 - a**2


ACTIVATIONS = {"relu": (_relu, _relu_grad), "tanh": (_tanh, _tanh_grad)}


def _he(rng, fan_in, fan_out):
    """He (Kaiming) normal: N(0, 2 / fan_in), suited to ReLU."""
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))


def _xavier(rng, fan_in, fan_out):
    """Xavier (Glorot) uniform: U(-a, a) with a = sqrt(6 / (fan_in + fan_out)), suited to tanh."""
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=(fan_in, fan_out))


_INITS = {"he": _he, "xavier": _xavier}


class MLP(_Classifier):
    """A small multi-layer perceptron classifier with one or more hidden layers.

    For layers l = 1 .. L (the last one is the output layer)::

        z_l = a_{l-1} @ W_l + b_l,   a_0 = X
        a_l = act(z_l)               (hidden layers; act is ReLU or tanh)
        logits = z_L,   loss = softmax cross-entropy(logits, y)

    params: ``W1, b1, W2, b2, ...`` with ``W_l`` (fan_in, fan_out), ``b_l`` (fan_out,).
    ``hidden`` is an int or a tuple of sizes, e.g. ``(64,)`` or ``(64, 32)``.
    ``init="auto"`` uses He-normal weights for ReLU and Xavier-uniform for tanh
    in the hidden layers, Xavier-uniform in the output layer; biases start at 0.
    """

    def __init__(self, n_features, hidden=(32,), n_classes=10, activation="relu", init="auto"):
        self.n_features = argcheck.integer(n_features, "n_features", 1)
        self.n_classes = argcheck.integer(n_classes, "n_classes", 2)
        hidden = (hidden,) if isinstance(hidden, (int, np.integer)) else tuple(hidden)
        if not hidden:
            raise ValueError("hidden must name at least one hidden layer size, e.g. hidden=(32,)")
        self.hidden = tuple(argcheck.integer(h, "each hidden size", 1) for h in hidden)
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose from {', '.join(ACTIVATIONS)}")
        self.activation = activation
        if init == "auto":
            init = "he" if activation == "relu" else "xavier"
        if init not in _INITS:
            raise ValueError(f"unknown init {init!r}; choose from auto, {', '.join(_INITS)}")
        self.init_scheme = init
        self.sizes = (self.n_features, *self.hidden, self.n_classes)

    def __repr__(self):
        return (f"MLP(n_features={self.n_features}, hidden={self.hidden}, n_classes={self.n_classes}, "
                f"activation={self.activation!r}, init={self.init_scheme!r})")

    @property
    def n_layers(self):
        """Number of weight layers (hidden layers + the output layer)."""
        return len(self.sizes) - 1

    def shapes(self):
        shapes = {}
        for l in range(1, self.n_layers + 1):
            shapes[f"W{l}"] = (self.sizes[l - 1], self.sizes[l])
            shapes[f"b{l}"] = (self.sizes[l],)
        return shapes

    def init(self, rng):
        rng = argcheck.generator(rng)
        params = {}
        for l in range(1, self.n_layers + 1):
            fan_in, fan_out = self.sizes[l - 1], self.sizes[l]
            scheme = _INITS[self.init_scheme] if l < self.n_layers else _xavier
            params[f"W{l}"] = scheme(rng, fan_in, fan_out)
            params[f"b{l}"] = np.zeros(fan_out)
        return params

    def _forward(self, params, X):
        """Logits and the cache (z_l, a_l) of every layer; a[0] = X."""
        act = ACTIVATIONS[self.activation][0]
        zs, activations = [None], [X]
        a = X
        for l in range(1, self.n_layers + 1):
            z = a @ params[f"W{l}"] + params[f"b{l}"]
            a = act(z) if l < self.n_layers else z
            zs.append(z)
            activations.append(a)
        return a, zs, activations

    def forward(self, params, X):
        X = self._check_X(X)
        return self._forward(params, X)[0]

    def backward(self, params, X, y, need_grads=True):
        X = self._check_X(X)
        y = self._check_labels(X, y)
        self._check_params(params)
        logits, zs, activations = self._forward(params, X)
        L = float(losses.softmax_cross_entropy(logits, y))
        if not need_grads:
            return L, None
        act_grad = ACTIVATIONS[self.activation][1]
        grads = {}
        delta = losses.softmax_cross_entropy_grad(logits, y)     # dL/dz_L, (n, n_classes)
        for l in range(self.n_layers, 0, -1):
            grads[f"W{l}"] = activations[l - 1].T @ delta         # dL/dW_l = a_{l-1}^T delta_l
            grads[f"b{l}"] = delta.sum(axis=0)                    # dL/db_l = sum over the batch
            if l > 1:
                da = delta @ params[f"W{l}"].T                    # dL/da_{l-1}
                delta = da * act_grad(zs[l - 1], activations[l - 1])   # dL/dz_{l-1}
        return L, {name: grads[name] for name in self.shapes()}
