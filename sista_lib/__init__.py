"""sista_lib: sparse coding, SISTA and the SISTA-RNN.

Modules, one idea each:

- :mod:`sista_lib.sparse`: soft-thresholding, the Lasso, ISTA and FISTA.
- :mod:`sista_lib.dictionaries`: wavelet and DCT dictionaries, measurement matrices.
- :mod:`sista_lib.analysis`: best k-term approximation and the l1 phase transition.
- :mod:`sista_lib.sista`: SISTA, sequential sparse recovery with a temporal prior.
- :mod:`sista_lib.models`: the SISTA-RNN and the black-box baselines (torch).
- :mod:`sista_lib.data`: images bundled with installed packages, column sequences, measurements.
- :mod:`sista_lib.train`: training loop, checkpoints, evaluation.
- :mod:`sista_lib.experiment`: the study's command (``python -m sista_lib.experiment``) and its results.
- :mod:`sista_lib.metrics`: MSE, PSNR, SSIM and the paper's scoring protocol.
- :mod:`sista_lib.plot`: recurring figures.
"""

__version__ = "0.1.0"
