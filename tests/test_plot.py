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


def test_book_style_is_hidpi_colour_blind_safe_and_legible():
    plot.use_book_style()
    rc = plt.rcParams
    assert rc["savefig.dpi"] == 2 * rc["figure.dpi"] == 200
    assert rc["figure.facecolor"] == "white" and rc["axes.facecolor"] == "white"
    assert min(rc["font.size"], rc["legend.fontsize"], rc["xtick.labelsize"]) >= 10
    cycle = rc["axes.prop_cycle"].by_key()
    assert list(cycle["color"]) == list(plot.BOOK_COLORS)
    # every colour has its own line style, so curves differ in more than colour
    assert len(set(map(str, cycle["linestyle"]))) == len(plot.BOOK_COLORS)
    fig, ax = plt.subplots()
    lines = [ax.plot([0, 1])[0] for _ in range(3)]
    assert len({(ln.get_color(), str(ln.get_linestyle())) for ln in lines}) == 3


def test_png_is_drawn_at_twice_the_display_width_and_compact():
    from PIL import Image
    import io

    plot.use_book_style()
    fig, ax = plt.subplots(figsize=(4, 2))
    ax.plot([0, 1], [0, 1])
    data, width = plot._png_bytes(fig, tight=False)
    image = Image.open(io.BytesIO(data))
    assert width == 400 and image.size == (800, 400)
    assert image.mode in ("P", "L")                      # a palette or grey levels, not RGB
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.imshow(np.linspace(0, 1, 64).reshape(8, 8), cmap="gray")
    assert Image.open(io.BytesIO(plot._png_bytes(fig)[0])).mode == "L"   # lossless grey
    b64, meta = plot._inline_png(fig)
    assert set(meta) == {"width"}                        # no fixed height: scales in proportion


def test_frames_player_embeds_one_frame_per_value_and_no_network():
    plot.use_book_style()
    fig, ax = plt.subplots(figsize=(3, 2))
    (line,) = ax.plot([0, 1], [0, 0])

    def update(v):
        line.set_ydata([0, v])

    player = plot.frames_player(fig, update, [1, 2, 3], label="v", start=0)
    html = player.data
    assert html.count("data:image/png;base64,") == 3      # each frame stored once
    assert 'max="2"' in html and "v = 1" in html and "v = 3" in html
    assert "http://" not in html and "https://" not in html
    assert 'style="max-width: 100%; width: 300px"' in html
    assert not plt.fignum_exists(fig.number)
    with pytest.raises(ValueError, match="values is empty"):
        plot.frames_player(plt.figure(), update, [])
    with pytest.raises(ValueError, match="fmt must be 'png' or 'jpeg'"):
        plot.frames_player(plt.figure(), update, [1], fmt="gif")
    with pytest.raises(ValueError, match="start must index values"):
        plot.frames_player(plt.figure(), update, [1, 2], start=2)
