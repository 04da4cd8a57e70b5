"""optlessons: the companion package of a course on how neural networks are optimized.

One module per idea; import the one you need (``from optlessons.optim import Adam``):

    losses        MSE, MAE, Huber, binary and softmax cross-entropy, with their gradients
    functions     2-D landscapes (quadratic, Rosenbrock, Beale, Himmelblau, saddle, six-hump camel)
    gradcheck     finite-difference gradients and the relative-error check
    curvature     finite-difference Hessians, eigenvalue signs, Newton's step (plain, damped, saddle-free)
    optim         SGD, Adagrad, RMSprop, Adadelta, Adam, AdamW, NAdam, RAdam, Adamax: pure updates and
                  classes, as torch.optim
    schedules     learning-rate schedules (step, exponential, 1/t, cosine, warm-up, linear, one-cycle,
                  warm restarts, chains) and ReduceLROnPlateau, as torch.optim.lr_scheduler
    data          synthetic data with a known answer, and the shipped handwritten digits
    models        linear and softmax regression and an MLP with hand-written backprop
    train         minimize (a landscape, from a start point) and fit (a model on data), gradient
                  clipping and a moving average of the weights
    search        grid and random search, tuning each optimizer's own learning rate, the lr range test
    convergence   measured rates of convergence and momentum's rate map over (lr, β)
    argcheck      the argument checks every module shares: one wording, ValueError
    plots         contour plots with trajectories, loss curves (matplotlib)
    widgets       the slider experiments and the optimizer playground (ipywidgets)
    checks        the exercises' checks, which name the mistake they find
    setup_check   `python -m optlessons.setup_check`: is this machine ready for the course?

The maths modules need only numpy; `plots` adds matplotlib and `widgets` ipywidgets.
"""

__version__ = "0.1.0"
