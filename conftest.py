"""Repository-wide pytest set-up: one torch thread (deterministic, and faster on 2 cores)."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_configure(config):
    import torch

    torch.set_num_threads(1)
