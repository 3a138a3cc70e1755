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


# --------------------------------------------------------------------------------------------
# the figures of the training and reading chapters
# --------------------------------------------------------------------------------------------


class _Band:
    def __init__(self, short, start, stop):
        self.short, self.start, self.stop = short, start, stop


BANDS = [_Band("s", 0, 2), _Band("d2", 2, 4), _Band("d1", 4, 8)]


def _colors(lines):
    return [matplotlib.colors.to_hex(ln.get_color()) for ln in lines]


def test_series_without_a_style_take_the_book_colours_in_turn():
    looks = plot._series_styles(["ref", "a", "b"], {"ref": plot.REFERENCE_STYLE})
    assert looks == {"ref": {"color": "0.35", "ls": ":"},
                     "a": {"color": plot.BOOK_COLORS[0], "ls": plot.BOOK_LINESTYLES[0]},
                     "b": {"color": plot.BOOK_COLORS[1], "ls": plot.BOOK_LINESTYLES[1]}}
    with pytest.raises(TypeError, match="styles must be a mapping of series labels"):
        plot._series_styles(["a"], [{"color": "k"}])


def test_legend_below_collects_the_entries_of_one_axes():
    fig, axes = plt.subplots(1, 2)
    axes[0].plot([0, 1], label="a")
    axes[1].plot([0, 1], label="b")
    legend = plot.legend_below(fig, axes[0], ncol=3)
    assert [t.get_text() for t in legend.get_texts()] == ["a"] and not legend.get_frame_on()
    assert [t.get_text() for t in plot.legend_below(fig).get_texts()] == ["a", "b"]
    with pytest.raises(ValueError, match=r"space must be a fraction of the figure's height in \[0, 1\), got 1.5"):
        plot.legend_below(fig, space=1.5)


def test_learning_curves_from_epoch_zero_with_markers():
    ax = plot.plot_learning_curves({"m": [3.0, 2.0, 1.0]}, start=0, marker="o", figsize=(5.4, 3.0))
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [0, 1, 2])
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [3.0, 2.0, 1.0])
    assert ax.lines[0].get_marker() == "o" and tuple(ax.figure.get_size_inches()) == (5.4, 3.0)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["m"]
    with pytest.raises(TypeError, match="start must be an integer epoch, got float"):
        plot.plot_learning_curves({"m": [1.0]}, start=0.5)


def test_crops_and_measurements():
    images = [np.full((4, 4), 0.2), np.full((4, 4), 0.8)]
    x = np.array([[1.0, -2.0, 0.5], [0.0, 1.0, -1.0]])           # (T, M) = (2, 3)
    fig = plot.plot_crops_and_measurements(images, ["a", "b"], x)
    assert len(fig.axes) == 3 and [ax.get_title() for ax in fig.axes[:2]] == ["a", "b"]
    np.testing.assert_array_equal(fig.axes[1].images[0].get_array(), images[1])
    bottom = fig.axes[2]
    np.testing.assert_array_equal(bottom.images[0].get_array(), x.T)
    assert bottom.images[0].get_clim() == (-2.0, 2.0) and bottom.get_ylabel() == "$x_t$ (3 entries)"
    with pytest.raises(ValueError, match="titles \\(one per image\\) must have 2 entries, got 1"):
        plot.plot_crops_and_measurements(images, ["a"], x)
    with pytest.raises(ValueError, match=r"measurements must be a \(T, M\) array, got shape \(3,\)"):
        plot.plot_crops_and_measurements(images, ["a", "b"], x[0])


def test_training_progress_per_epoch_and_in_time():
    curves = {"a": [4.0, 2.0], "b": [3.0, 1.0]}
    minutes = {"a": [0.5, 1.0], "b": [2.0, 4.0]}
    fig = plot.plot_training_progress(curves, minutes, bands={"a": ([3.5, 1.5], [4.5, 2.5])},
                                      reference=5.0, reference_label="start")
    left, right = fig.axes
    assert left.get_legend() is None and left.get_yscale() == right.get_yscale() == "log"
    np.testing.assert_array_equal(left.lines[1].get_ydata(), [3.0, 1.0])
    np.testing.assert_array_equal(right.lines[0].get_xdata(), [0.5, 1.0])
    np.testing.assert_array_equal(right.lines[1].get_ydata(), [3.0, 1.0])
    assert left.lines[2].get_ydata()[0] == 5.0 and len(left.collections) == 1
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["a", "b", "start"]
    assert (left.get_title(), right.get_title(), right.get_xlabel()) == (
        "per epoch", "against training time", "training time (min)")
    with pytest.raises(ValueError, match="minutes must have the times of every curve, got none for 'b'"):
        plot.plot_training_progress(curves, {"a": [0.5, 1.0]})
    with pytest.raises(ValueError, match=r"minutes\['a'\] \(one per epoch\) must have 2 entries, got 1"):
        plot.plot_training_progress(curves, {"a": [1.0], "b": [1.0, 2.0]})
    steps = plot.plot_training_progress(curves, minutes, steps_per_epoch=490).axes[0]
    np.testing.assert_array_equal(steps.lines[0].get_xdata(), [490, 980])   # epochs 1 and 2
    assert (steps.get_xlabel(), steps.get_title()) == ("optimiser steps", "against optimiser steps")
    with pytest.raises(ValueError, match="steps_per_epoch must be an integer >= 1, got 0"):
        plot.plot_training_progress(curves, minutes, steps_per_epoch=0)


def test_reconstruction_grid_clips_and_titles_each_estimate():
    originals = [np.full((3, 3), 0.5), np.zeros((3, 3))]
    est = np.array([np.full((3, 3), 1.5), np.full((3, 3), -0.2)])
    fig = plot.plot_reconstruction_grid(originals, {"net": est, "alg": est * 0}, scores={"net": [21.26, 9.0],
                                        "alg": [1.0, 2.0]}, column_titles=["p", "q"])
    assert len(fig.axes) == 6
    axes = np.array(fig.axes).reshape(3, 2)
    assert [ax.get_title() for ax in axes[0]] == ["p", "q"]
    assert [ax.get_title() for ax in axes[1]] == ["21.3 dB", "9.0 dB"]
    assert [axes[r, 0].get_ylabel() for r in range(3)] == ["original", "net", "alg"]
    np.testing.assert_array_equal(axes[1, 0].images[0].get_array(), np.ones((3, 3)))
    np.testing.assert_array_equal(axes[1, 1].images[0].get_array(), np.zeros((3, 3)))
    np.testing.assert_array_equal(axes[0, 0].images[0].get_array(), originals[0])
    with pytest.raises(ValueError, match=r"estimates\['net'\] \(one per original\) must have 2 entries, got 1"):
        plot.plot_reconstruction_grid(originals, {"net": est[:1]})
    with pytest.raises(ValueError, match="scores must have the scores of every row, got none for 'net'"):
        plot.plot_reconstruction_grid(originals, {"net": est}, scores={})


def test_plot_lines_and_depth_sweep():
    ax = plot.plot_lines([1, 2, 3], {"a": [1.0, 2.0, 3.0], "b": [3.0, 2.0, 1.0]}, baseline=0.0, marker="o",
                         xlabel="k", ylabel="v")
    assert len(ax.lines) == 3 and ax.get_legend() is None and (ax.get_xlabel(), ax.get_ylabel()) == ("k", "v")
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), [3.0, 2.0, 1.0])
    assert _colors(ax.lines[:2]) == [plot.BOOK_COLORS[0].lower(), plot.BOOK_COLORS[1].lower()]
    assert ax.lines[0].get_marker() == "o" and list(ax.lines[2].get_ydata()) == [0.0, 0.0]
    with pytest.raises(ValueError, match=r"curves\['a'\] \(one value per x\) must have 3 entries, got 2"):
        plot.plot_lines([1, 2, 3], {"a": [1.0, 2.0]})
    fig = plot.plot_depth_sweep([1, 2, 4], {"untrained": [5.0, 5.0, 5.0], "trained": [7.0, 3.0, 6.0]},
                                trained_k=2, styles={"untrained": plot.REFERENCE_STYLE})
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "layers / iterations K (trained with K = 2)"
    assert ax.lines[0].get_linestyle() == ":" and ax.lines[0].get_color() == "0.35"
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), [7.0, 3.0, 6.0])
    assert list(ax.lines[2].get_xdata()) == [2, 2]                     # the trained depth
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["untrained", "trained"]
    with pytest.raises(ValueError, match=r"scores\['trained'\] \(one per K\) must have 3 entries, got 1"):
        plot.plot_depth_sweep([1, 2, 4], {"trained": [7.0]})


def test_learning_rate_sweep_plot_marks_the_divergent_runs():
    sweep = {"lrs": [1e-4, 1e-3], "models": ["sista_rnn", "lstm"],
             "score": {"sista_rnn": {1e-4: 20.0, 1e-3: None}, "lstm": {1e-4: 15.0, 1e-3: 16.0}},
             "diverged": {"sista_rnn": {1e-4: None, 1e-3: 3}, "lstm": {1e-4: None, 1e-3: None}}}
    fig = plot.plot_learning_rate_sweep(sweep)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.0001", "0.001"]
    sista, cross, lstm = ax.lines
    np.testing.assert_array_equal(sista.get_ydata(), [20.0, np.nan])
    assert cross.get_marker() == "x" and list(cross.get_xdata()) == [1e-3]
    assert list(cross.get_ydata()) == [0.04]
    assert cross.get_color() == sista.get_color()
    np.testing.assert_array_equal(lstm.get_ydata(), [15.0, 16.0])
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["SISTA-RNN (paper)", "LSTM"]
    both = {**sweep, "score": {**sweep["score"], "lstm": {1e-4: 15.0, 1e-3: None}},
            "diverged": {**sweep["diverged"], "lstm": {1e-4: None, 1e-3: 5}}}
    crosses = [line for line in plot.plot_learning_rate_sweep(both).axes[0].lines
               if line.get_marker() == "x"]
    assert [list(c.get_ydata()) for c in crosses] == [[0.04], [0.12]]   # stacked, not on top
    fig = plot.plot_learning_rate_sweep(sweep, reference=14.0, reference_label="untrained")
    assert list(fig.axes[0].lines[-1].get_ydata()) == [14.0, 14.0]
    assert [t.get_text() for t in fig.legends[0].get_texts()][-1] == "untrained"
    with pytest.raises(ValueError, match=r"sweep must be what sista_lib.experiment.learning_rate_"
                                         r"sweep returns .* got \['lrs'\]"):
        plot.plot_learning_rate_sweep({"lrs": []})


def test_parameter_trajectories_one_line_per_run_with_marks_and_envelope():
    runs = [{"a": [1.0, 1.5, 2.0], "b": [0.0, 0.1, 0.2]}, {"a": [1.0, 1.2, 1.1], "b": [0.0, 0.3, 0.2]}]
    fig = plot.plot_parameter_trajectories({"net": runs}, {"a": "alpha", "b": "beta"}, marks={"net": [2, 1]},
                                           reference={"a": 1.0}, reach=[0.0, 1.0, 2.0], ncols=2,
                                           figsize=(6, 3))
    ax_a, ax_b = fig.axes
    assert (ax_a.get_title(), ax_b.get_title(), ax_a.get_xlabel()) == ("alpha", "beta", "epoch")
    # per run: its line and its mark; then the envelope on the panel with a reference
    assert len(ax_a.lines) == 2 * 2 + 2 and len(ax_b.lines) == 2 * 2
    np.testing.assert_array_equal(ax_a.lines[0].get_ydata(), [1.0, 1.5, 2.0])
    assert list(ax_a.lines[1].get_xdata()) == [2] and list(ax_a.lines[1].get_ydata()) == [2.0]
    assert list(ax_b.lines[3].get_ydata()) == [0.3]
    np.testing.assert_array_equal(ax_a.lines[4].get_ydata(), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(ax_a.lines[5].get_ydata(), [1.0, 0.0, -1.0])
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["net", r"$\theta_0 \pm \eta s$"]
    with pytest.raises(ValueError, match=r"marks\['net'\] \(one per run\) must have 2 entries, got 1"):
        plot.plot_parameter_trajectories({"net": runs}, {"a": "alpha"}, marks={"net": [2]})
    with pytest.raises(ValueError, match=r"trajectories\['net'\]\[0\] must have every key of panels, got none for \['c'\]"):
        plot.plot_parameter_trajectories({"net": runs}, {"c": "gamma"})
    with pytest.raises(ValueError, match="ncols must be an integer >= 1, got 0"):
        plot.plot_parameter_trajectories({"net": runs}, {"a": "alpha"}, ncols=0)


def test_mark_bands_and_atom_profiles():
    ax = plot.mark_bands(plt.subplots()[1], BANDS)
    assert [ln.get_xdata()[0] for ln in ax.lines] == [1.5, 3.5]
    assert [t.get_text() for t in ax.texts] == ["s", "d2", "d1"] and ax.texts[2].get_position()[0] == 6.0
    assert len(plot.mark_bands(plt.subplots()[1], BANDS, names=False).texts) == 0
    runs = np.array([[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], [2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]])
    fig = plot.plot_atom_profiles([{"a": runs, "b": runs + 1}, {"a": runs, "b": runs}], ["top", "bottom"],
                                  references=[None, 1.0], bands=BANDS)
    top, bottom = fig.axes
    np.testing.assert_array_equal(top.lines[0].get_ydata(), runs.mean(0))
    np.testing.assert_array_equal(top.lines[1].get_ydata(), runs.mean(0) + 1)
    assert len(top.collections) == 2 and len(top.texts) == 3 and len(bottom.texts) == 0
    assert list(bottom.lines[2].get_ydata()) == [1.0, 1.0]              # the reference level
    assert (top.get_ylabel(), bottom.get_ylabel(), bottom.get_xlabel()) == ("top", "bottom", "atom index j")
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["a", "b"]
    with pytest.raises(ValueError, match=r"ylabels \(one per panel\) must have 2 entries, got 1"):
        plot.plot_atom_profiles([{"a": runs}, {"a": runs}], ["top"])
    with pytest.raises(ValueError, match=r"panels\[0\]\['a'\] must be a \(runs, atoms\) array, got shape \(8,\)"):
        plot.plot_atom_profiles([{"a": runs[0]}], ["top"])


def test_singular_values_and_spectrum_change():
    ax = plot.plot_singular_values({"a": [[3.0, 2.0], [2.5, 1.0]], "b": [[1.0, 0.5]]}, reference=1.0,
                                   title="t")
    assert len(ax.lines) == 4 and ax.get_title() == "t"
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), [2.5, 1.0])
    assert _colors(ax.lines[:3]) == [plot.BOOK_COLORS[0].lower()] * 2 + [plot.BOOK_COLORS[1].lower()]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    with pytest.raises(ValueError, match=r"values\['a'\]\[0\] must be 1-d singular values, got shape \(1, 2\)"):
        plot.plot_singular_values({"a": [[[1.0, 2.0]]]})
    W0, W = np.diag([3.0, 1.0]), np.diag([1.0, 4.0])
    ax = plot.plot_spectrum_change([(W0, W)], title="s")
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [3.0, 1.0])
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), [4.0, 1.0])
    assert (ax.lines[0].get_linestyle(), ax.lines[1].get_linestyle()) == (":", "-")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["layer 1", "initial", "trained"]
    with pytest.raises(ValueError, match=r"pairs\[0\] must be an \(initial, trained\) pair, got 1 entries"):
        plot.plot_spectrum_change([(W0,)])
    with pytest.raises(ValueError, match=r"pairs\[0\]\[1\] must be a matrix, got shape \(2,\)"):
        plot.plot_spectrum_change([(W0, np.ones(2))])


def test_code_sparsity_histogram_and_usage():
    sparsity = {"ref": {"counts": np.array([0, 2, 2, 5]), "atom_usage": np.array([0.5, 0.25, 0.0, 1.0])},
                "net": {"counts": np.array([1, 1]), "atom_usage": np.array([0.0, 0.5, 0.5, 0.5])}}
    fig = plot.plot_code_sparsity(sparsity, bands=BANDS[:2], styles={"ref": plot.REFERENCE_STYLE})
    top, bottom = fig.axes
    np.testing.assert_array_equal(bottom.lines[1].get_ydata(), [0.0, 0.5, 0.5, 0.5])
    assert bottom.lines[0].get_color() == "0.35"
    # bins [0, 2), [2, 4] of weight 1 / (number of codes): ref 1 and 2 of its 4 codes, net both
    heights = [sorted(set(p.get_path().vertices[:, 1])) for p in top.patches]
    assert heights == [[0.0, 0.25, 0.5], [0.0, 1.0]]
    assert top.get_xlabel() == r"non-zero entries of $\hat h_t$ (of 4)" and len(bottom.texts) == 2
    with pytest.raises(ValueError, match=r"sparsity\['net'\] must have 'counts' and 'atom_usage', got none for \['counts'\]"):
        plot.plot_code_sparsity({"net": {"atom_usage": [0.0]}})


def test_matrices_blocks_and_eigenvalues():
    fig = plot.plot_matrices({"A": np.eye(2), "B": -np.eye(3), "C": np.ones((2, 2))}, ncols=2)
    shown = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in shown] == ["A", "B", "C"] and not fig.axes[3].axison
    np.testing.assert_array_equal(shown[1].images[0].get_array(), -np.eye(3))
    assert list(shown[0].get_xticks()) == []
    ax = plot.plot_matrix_blocks(np.arange(12.0).reshape(2, 6), ["i", "f", "o"], title="gates")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["i", "f", "o"]
    assert list(ax.get_xticks()) == [1.0, 3.0, 5.0] and [ln.get_xdata()[0] for ln in ax.lines] == [1.5, 3.5]
    with pytest.raises(ValueError, match="blocks must split the 6 columns of M into equal blocks, got 4 blocks"):
        plot.plot_matrix_blocks(np.ones((2, 6)), ["a", "b", "c", "d"])
    fig = plot.plot_eigenvalues({"W": (np.diag([0.5, -0.25]), np.array([[0.0, -1.0], [1.0, 0.0]]))}, ncols=2)
    ax = fig.axes[0]
    assert ax.get_title() == "W" and len(ax.lines) == 3 and not fig.axes[1].axison
    np.testing.assert_allclose(np.abs(ax.lines[0].get_xdata() + 1j * ax.lines[0].get_ydata()), 1.0)
    assert sorted(ax.lines[1].get_xdata()) == [-0.25, 0.5] and list(ax.lines[1].get_ydata()) == [0.0, 0.0]
    assert sorted(ax.lines[2].get_ydata()) == [-1.0, 1.0]           # a rotation: eigenvalues +-i
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["initial", "trained"]
    with pytest.raises(ValueError, match=r"pairs\['W'\]\[1\] must be a square matrix, got shape \(2, 3\)"):
        plot.plot_eigenvalues({"W": (np.eye(2), np.ones((2, 3)))})


def test_depth_sweep_marks_a_diverged_depth_with_a_cross_on_the_axis():
    fig = plot.plot_depth_sweep([1, 2, 4, 8], {"paper": [7.0, 8.0, np.nan, np.nan], "released": [6.0, 6.0, 6.0, np.nan]},
                                trained_k=2)
    ax = fig.axes[0]
    crosses = [line for line in ax.lines if line.get_marker() == "x"]
    assert [list(c.get_xdata()) for c in crosses] == [[4, 8], [8]]
    assert [list(c.get_ydata()) for c in crosses] == [[0.04, 0.04], [pytest.approx(0.12)]]   # stacked at K = 8
    assert _colors(crosses) == [plot.BOOK_COLORS[0].lower(), plot.BOOK_COLORS[1].lower()]
    assert ax.get_xlabel().endswith("; ×: the output diverged")


def test_depth_sweep_draws_its_reference_first_in_the_reference_style():
    fig = plot.plot_depth_sweep([1, 2, 4], {"paper": [7.0, 3.0, 6.0], "released": [6.0, 6.0, 6.0]},
                                reference={"untrained": [5.0, 5.0, 5.0]})
    ax = fig.axes[0]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["untrained", "paper", "released"]
    assert (ax.lines[0].get_color(), ax.lines[0].get_linestyle()) == ("0.35", ":")
    # the reference takes no colour of the book's cycle: the series start with its first
    assert _colors(ax.lines[1:3]) == [plot.BOOK_COLORS[0].lower(), plot.BOOK_COLORS[1].lower()]
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [5.0, 5.0, 5.0])
    with pytest.raises(ValueError, match="reference must hold at least one entry"):
        plot.plot_depth_sweep([1, 2, 4], {"paper": [7.0, 3.0, 6.0]}, reference={})


def test_dictionary_change_draws_atoms_over_their_reference_and_every_spectrum():
    D0 = np.eye(4)
    D = D0 + 0.1
    fig = plot.plot_dictionary_change(D, D0, [2, 0], {"paper": [np.array([2.0, 1.0]), np.array([1.5, 0.5])]},
                                      labels=["atom 2", "atom 0"])
    atoms, spectra = fig.axes
    # per atom: its reference (grey, dashed), then the atom, each lower than the one before
    assert len(atoms.lines) == 4 and atoms.lines[0].get_linestyle() == "--"
    np.testing.assert_array_equal(atoms.lines[1].get_ydata(), D[:, 2])
    np.testing.assert_allclose(atoms.lines[3].get_ydata(), D[:, 0] - 1.2 * 1.1)
    assert [t.get_text() for t in atoms.get_legend().get_texts()] == ["atom 2", "atom 0"]
    assert len(spectra.lines) == 3 and list(spectra.lines[2].get_ydata()) == [1.0, 1.0]
    assert spectra.get_ylabel() == r"$\sigma_i(D)$" and spectra.get_title().startswith("(b)")
    with pytest.raises(ValueError, match=r"labels \(one per atom of indices\) must have 2 entries, got 1"):
        plot.plot_dictionary_change(D, D0, [2, 0], {"paper": [np.ones(2)]}, labels=["atom 2"])


def test_matrix_diagonals_shows_the_matrix_and_one_profile_per_label():
    E = np.diag([0.5, -1.0])
    fig = plot.plot_matrix_diagonals(E, [-1, 0, 1], {"paper": [0.1, -0.2, 0.3]})
    image, lines = fig.axes[0], fig.axes[1]                 # then the colour bar of the image
    np.testing.assert_array_equal(image.images[0].get_array(), E)
    assert image.get_title() == "$F - I$" and lines.get_xlabel() == "diagonal offset k"
    np.testing.assert_array_equal(lines.lines[0].get_ydata(), [0.1, -0.2, 0.3])
    assert list(lines.lines[1].get_ydata()) == [0.0, 0.0]              # the zero baseline
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["paper"]
    with pytest.raises(ValueError, match=r"curves\['paper'\] \(one value per x\) must have 3 entries, got 2"):
        plot.plot_matrix_diagonals(E, [-1, 0, 1], {"paper": [0.1, 0.2]})


def test_lstm_recurrence_shows_layer_one_transposed_and_every_layers_spectrum():
    rng = np.random.default_rng(0)
    pairs = [(rng.standard_normal((8, 2)), rng.standard_normal((8, 2))) for _ in range(3)]
    fig = plot.plot_lstm_recurrence(pairs)
    blocks, spectra = fig.axes[0], fig.axes[1]
    np.testing.assert_array_equal(blocks.images[0].get_array(), pairs[0][1].T)
    assert blocks.get_title() == "(a) weight_hh_l0ᵀ of layer 1 (2 × 8)"
    assert [t.get_text() for t in blocks.get_xticklabels()] == ["input gate", "forget gate", "cell", "output gate"]
    assert len(spectra.lines) == 2 * 3                      # per layer: initial (dotted), trained
    np.testing.assert_allclose(spectra.lines[5].get_ydata(), np.linalg.svd(pairs[2][1], compute_uv=False))
    with pytest.raises(ValueError, match=r"pairs must hold one \(initial, trained\) pair of weight_hh per layer, got none"):
        plot.plot_lstm_recurrence([])
