"""sista_lib: sparse coding, SISTA and the SISTA-RNN.

Modules, one idea each; each imports only modules listed above it
(``tests/test_layout.py`` checks this):

- :mod:`sista_lib.sparse`: soft-thresholding, the Lasso, ISTA and FISTA.
- :mod:`sista_lib.dictionaries`: wavelet and DCT dictionaries, measurement matrices.
- :mod:`sista_lib.analysis`: compressibility and the l1 phase transition.
- :mod:`sista_lib.sista`: SISTA, sequential sparse recovery with a temporal prior.
- :mod:`sista_lib.fused`: the soft-threshold recurrences with a hand-written backward pass through time.
- :mod:`sista_lib.models`: the SISTA-RNN and the black-box baselines.
- :mod:`sista_lib.data`: bundled images, column sequences, measurements, the Caltech-256 loader.
- :mod:`sista_lib.metrics`: MSE, PSNR, SSIM and the paper's scoring.
- :mod:`sista_lib.checkpoints`: atomic files, safetensors parameters and resumable training state.
- :mod:`sista_lib.evaluate`: prediction, the paper's scoring protocol and the unsupervised baselines.
- :mod:`sista_lib.train`: the training loop, its configuration and the optimiser.
- :mod:`sista_lib.provenance`: where, when and how a result was computed.
- :mod:`sista_lib.experiment`: the study: runs, merge, results table and learning curves.
- :mod:`sista_lib.cli`: the command line of the study.
- :mod:`sista_lib.interpret`: reading a trained SISTA-RNN: parameter drift, dictionary spectra, step-size regime.
- :mod:`sista_lib.claims`: the paper's claims, measured on a study's results.
- :mod:`sista_lib.plot`: recurring figures.
- :mod:`sista_lib.book`: tables and glued numbers for the chapters.
"""

__version__ = "0.1.0"

#: The modules in dependency order (a module imports only modules before it).
MODULES = (
    "sparse",
    "dictionaries",
    "analysis",
    "sista",
    "fused",
    "models",
    "data",
    "metrics",
    "checkpoints",
    "evaluate",
    "train",
    "provenance",
    "experiment",
    "cli",
    "interpret",
    "claims",
    "plot",
    "book",
)
