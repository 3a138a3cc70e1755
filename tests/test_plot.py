"""Smoke-and-content tests of sista_lib.plot: each helper draws what it is given."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from sista_lib import plot  # noqa: E402


def teardown_function():
    plt.close("all")


def test_show_images_draws_each_image_with_titles():
    ims = [np.zeros((4, 4)), np.ones((4, 4)), np.eye(4)]
    fig = plot.show_images(ims, ["a", "b", "c"], ncols=2)
    drawn = [ax for ax in fig.axes if ax.images]
    assert len(drawn) == 3 and [ax.get_title() for ax in drawn] == ["a", "b", "c"]
    np.testing.assert_array_equal(drawn[2].images[0].get_array(), np.eye(4))
    with pytest.raises(ValueError, match="titles has 1 entries for 3 images"):
        plot.show_images(ims, ["a"])


def test_convergence_plot_subtracts_reference():
    ax = plot.plot_convergence({"ista": [3.0, 2.0, 1.5]}, reference=1.0)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [2.0, 1.0, 0.5])
    assert ax.get_yscale() == "log"


def test_learning_curves_start_at_epoch_one():
    ax = plot.plot_learning_curves({"m": [1.0, 0.5]}, bands={"m": ([0.9, 0.4], [1.1, 0.6])})
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2])
    assert len(ax.collections) == 1


def test_plot_matrix_is_centred_at_zero():
    ax = plot.plot_matrix(np.array([[1.0, -3.0], [0.0, 2.0]]))
    assert ax.images[0].get_clim() == (-3.0, 3.0)
