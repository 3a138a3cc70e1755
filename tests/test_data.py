"""Tests of sista_lib.data: bundled photos, crops, the paper's preprocessing and normalisation,
column sequences, measurements, the torch dataset and the splits."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sista_lib import data
from sista_lib.data import (
    PHOTOS,
    STUDY_TEST_PHOTOS,
    TEST_PHOTOS,
    TRAIN_PHOTOS,
    VAL_PHOTOS,
    CompressiveSensingDataset,
    Normalizer,
    caltech256_files,
    caltech256_images,
    collate_time_major,
    images_to_sequences,
    list_photos,
    load_photo,
    make_crops,
    make_splits,
    measure,
    paper_preprocess,
    sequences_to_images,
    to_grey,
)
from sista_lib.dictionaries import paper_measurement_matrix


# ------------------------------------------------------------------------------------------
# bundled photos
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(PHOTOS))
def test_every_registered_photo_loads_offline_as_grey_in_unit_range(name):
    photo = load_photo(name)
    assert photo.dtype == np.float64 and photo.ndim == 2
    assert min(photo.shape) >= 128
    assert 0.0 <= photo.min() < photo.max() <= 1.0


def test_splits_of_photos_are_disjoint_and_by_package():
    train, val, test = (set(list_photos(s)) for s in ("train", "val", "test"))
    assert not (train & val or train & test or val & test)
    assert train | val | set(STUDY_TEST_PHOTOS) == set(PHOTOS) == set(list_photos())
    assert test < set(STUDY_TEST_PHOTOS) and not (set(STUDY_TEST_PHOTOS) & (train | val))
    assert {PHOTOS[n].package for n in train | val} == {"scikit-image"}
    assert "scikit-image" not in {PHOTOS[n].package for n in test}
    assert "camera" not in {n for n in PHOTOS if PHOTOS[n].package == "PyWavelets"}
    assert len(TRAIN_PHOTOS) == 11 and len(VAL_PHOTOS) == 3 and len(TEST_PHOTOS) == 4


def test_every_photo_has_licence_and_attribution():
    for p in PHOTOS.values():
        assert p.licence and p.attribution and p.loader.startswith(("skimage", "sklearn", "pywt", "matplotlib"))


def test_load_photo_returns_a_copy():
    a = load_photo("coins")
    a[:] = 0
    assert load_photo("coins").max() > 0


def test_grey_uses_rec601_weights():
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 100, 50, 200
    np.testing.assert_allclose(to_grey(rgb), 0.299 * 100 + 0.587 * 50 + 0.114 * 200)
    rgba = np.concatenate([rgb, np.full((2, 2, 1), 7, np.uint8)], axis=-1)
    np.testing.assert_array_equal(to_grey(rgba), to_grey(rgb))


def test_photo_errors():
    with pytest.raises(ValueError, match="unknown photo 'lena'"):
        load_photo("lena")
    with pytest.raises(TypeError, match="photo name must be a str"):
        load_photo(3)
    with pytest.raises(ValueError, match="split must be None, 'train', 'val' or 'test'"):
        list_photos("training")
    with pytest.raises(ValueError, match=r"image must have shape \(H, W\)"):
        to_grey(np.zeros((4, 4, 2)))


# ------------------------------------------------------------------------------------------
# crops
# ------------------------------------------------------------------------------------------
def test_crops_are_deterministic_for_a_seed_and_differ_for_another():
    a = make_crops(["camera", "coffee"], 6, seed=5)
    b = make_crops(["camera", "coffee"], 6, seed=5)
    c = make_crops(["camera", "coffee"], 6, seed=6)
    assert a.shape == (6, 128, 128) and a.dtype == np.float64
    assert 0.0 <= a.min() and a.max() <= 1.0
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_flips_are_flips():
    flipped, info = make_crops(["astronaut", "coins"], 40, seed=1, return_info=True)
    plain, plain_info = make_crops(["astronaut", "coins"], 40, seed=1, flips=False,
                                   return_info=True)
    seen = set()
    for f, p, i, pi in zip(flipped, plain, info, plain_info):
        assert (i.photo, i.top, i.left, i.side) == (pi.photo, pi.top, pi.left, pi.side)
        assert not (pi.flip_horizontal or pi.flip_vertical)
        expected = p[:, ::-1] if i.flip_horizontal else p
        expected = expected[::-1, :] if i.flip_vertical else expected
        np.testing.assert_array_equal(f, expected)
        seen.add((i.flip_horizontal, i.flip_vertical))
    assert seen == {(False, False), (True, False), (False, True), (True, True)}


def test_crop_info_locates_the_crop_exactly_at_native_scale():
    photo = load_photo("camera")  # 512 x 512: a window of 0.25 * 512 = 128 pixels is not resized
    crops, info = make_crops(["camera"], 5, seed=3, scale_range=(0.25, 0.25), return_info=True)
    for crop, i in zip(crops, info):
        assert i.side == 128
        window = photo[i.top:i.top + 128, i.left:i.left + 128]
        window = window[:, ::-1] if i.flip_horizontal else window
        window = window[::-1, :] if i.flip_vertical else window
        np.testing.assert_array_equal(crop, window)


def test_whole_photo_crop_is_a_downscaled_photo():
    from skimage.transform import resize

    photo = load_photo("camera")
    crop = make_crops(["camera"], 1, seed=0, flips=False, scale_range=(1.0, 1.0))[0]
    reference = resize(photo, (128, 128), anti_aliasing=True)
    assert np.abs(crop - reference).mean() < 0.02
    assert crop.std() > 0.1  # a photo, not a blur


def test_crop_scale_changes_the_content():
    small = make_crops(["camera"], 20, seed=0, scale_range=(0.25, 0.25))
    large = make_crops(["camera"], 20, seed=0, scale_range=(1.0, 1.0))
    # zooming out packs more edges into a crop: more high-frequency energy
    def roughness(x):
        return np.abs(np.diff(x, axis=-1)).mean()
    assert roughness(large) > roughness(small)


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        (([], 3), {}, ValueError, "photo_names is empty"),
        (("camera", 3), {}, TypeError, "photo_names must be a sequence"),
        ((["lena"], 3), {}, ValueError, "unknown photo"),
        ((["camera"], 0), {}, ValueError, "n_crops must be >= 1"),
        ((["camera"], 2), dict(scale_range=(0.0, 1.0)), ValueError,
         r"scale_range\[0\] must be > 0"),
        ((["camera"], 2), dict(scale_range=(0.5, 0.3)), ValueError, "0 < low <= high <= 1"),
        ((["camera"], 2), dict(scale_range=(0.5, 1.5)), ValueError, "0 < low <= high <= 1"),
        ((["camera"], 2), dict(size=600), ValueError, "smaller than size=600"),
        ((["camera"], 2), dict(seed=1.5), TypeError, "seed must be an integer"),
    ],
)
def test_crop_errors(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        make_crops(*args, **kwargs)


# ------------------------------------------------------------------------------------------
# the paper's preprocessing and Caltech-256
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(100, 200), (200, 100)])
def test_paper_preprocess_takes_the_centre_square(shape):
    image = np.zeros(shape + (3,), np.uint8)  # black borders, white centre square
    H, W = shape
    s = min(H, W)
    image[(H - s) // 2:(H - s) // 2 + s, (W - s) // 2:(W - s) // 2 + s] = 255
    out = paper_preprocess(image)
    assert out.shape == (128, 128) and out.dtype == np.float64
    np.testing.assert_allclose(out, 1.0, atol=1e-12)


def test_paper_preprocess_is_grey_over_255_and_clipped():
    image = np.zeros((64, 64, 3), np.uint8)
    image[...] = (200, 100, 50)
    np.testing.assert_allclose(paper_preprocess(image, 32), (0.299 * 200 + 0.587 * 100
                                                             + 0.114 * 50) / 255, atol=1e-12)
    edges = np.zeros((50, 50), np.uint8)
    edges[:, 25:] = 255  # cubic interpolation overshoots at a step: clipped
    out = paper_preprocess(edges)
    assert out.min() == 0.0 and out.max() == 1.0


def test_paper_preprocess_errors():
    with pytest.raises(TypeError, match="image must have dtype uint8"):
        paper_preprocess(np.zeros((10, 10)))
    with pytest.raises(TypeError, match="image must be a uint8 NumPy array or a PIL image"):
        paper_preprocess([[0, 1], [2, 3]])
    with pytest.raises(ValueError, match="image must have shape"):
        paper_preprocess(np.zeros((4, 4, 5), np.uint8))


def _write_caltech(root, n_per_category=(3, 2, 5), nested=False):
    """A tiny Caltech-256-like folder of generated JPEGs (landscape, portrait and grey)."""
    from PIL import Image

    base = root / "256_ObjectCategories" if nested else root
    rng = np.random.default_rng(0)
    names = ["001.ak47", "002.american-flag", "257.clutter"]
    for c, (name, n) in enumerate(zip(names, n_per_category)):
        (base / name).mkdir(parents=True)
        for i in range(n):
            H, W = (120, 180) if i % 2 == 0 else (200, 150)
            rgb = rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)
            im = Image.fromarray(rgb).convert("L") if c == 1 else Image.fromarray(rgb)
            im.save(base / name / f"{name[:3]}_{i + 1:04d}.jpg", quality=95)
    (base / names[0] / "notes.txt").write_text("not an image")
    return base


def test_caltech_loader_on_a_generated_folder(tmp_path):
    from PIL import Image

    base = _write_caltech(tmp_path)
    files = caltech256_files(tmp_path)
    assert len(files) == 10 and all(f.suffix == ".jpg" for f in files)
    assert files == sorted(files)
    images = caltech256_images(tmp_path)
    assert images.shape == (10, 128, 128) and images.dtype == np.float64
    assert 0.0 <= images.min() and images.max() <= 1.0
    with Image.open(files[0]) as im:
        np.testing.assert_array_equal(images[0], paper_preprocess(np.asarray(im)))
    assert caltech256_images(tmp_path, limit=4, size=32).shape == (4, 32, 32)
    assert base == tmp_path


def test_caltech_loader_accepts_the_archive_layout(tmp_path):
    _write_caltech(tmp_path, nested=True)
    assert len(caltech256_files(tmp_path)) == 10


def test_caltech_loader_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Caltech-256 folder not found"):
        caltech256_files(tmp_path / "missing")
    (tmp_path / "001.ak47").mkdir()
    (tmp_path / "001.ak47" / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match="no JPEG images found"):
        caltech256_images(tmp_path)
    with pytest.raises(TypeError, match="root must be a path"):
        caltech256_files(3)


def test_caltech_splits_are_80_10_10_disjoint_and_seeded(tmp_path):
    _write_caltech(tmp_path, n_per_category=(8, 6, 6))
    s = make_splits(None, None, None, source="caltech256", caltech_root=tmp_path)
    assert s.sizes() == {"train": 16, "val": 2, "test": 2}
    names = [set(s.provenance[k]) for k in ("train", "val", "test")]
    assert not (names[0] & names[1] or names[0] & names[2] or names[1] & names[2])
    assert len(set().union(*names)) == 20
    again = make_splits(None, None, None, source="caltech256", caltech_root=tmp_path)
    assert again.provenance == s.provenance
    other = make_splits(None, None, None, seed=1, source="caltech256", caltech_root=tmp_path)
    assert other.provenance != s.provenance
    capped = make_splits(5, 1, None, source="caltech256", caltech_root=tmp_path)
    assert capped.sizes() == {"train": 5, "val": 1, "test": 2}
    assert capped.provenance["train"] == s.provenance["train"][:5]


# ------------------------------------------------------------------------------------------
# splits, normalisation
# ------------------------------------------------------------------------------------------
def test_bundled_splits_share_no_photo_and_are_deterministic():
    s = make_splits(30, 10, 10)
    assert s.sizes() == {"train": 30, "val": 10, "test": 10}
    used = {k: {p.split("[")[0] for p in s.provenance[k]} for k in ("train", "val", "test")}
    assert used["train"] <= set(TRAIN_PHOTOS) and used["val"] <= set(VAL_PHOTOS)
    assert used["test"] <= set(TEST_PHOTOS)
    assert not (used["train"] & used["val"] or used["train"] & used["test"]
                or used["val"] & used["test"])
    again = make_splits(30, 10, 10)
    np.testing.assert_array_equal(again.train, s.train)
    np.testing.assert_array_equal(again.test, s.test)
    assert not np.allclose(make_splits(30, 10, 10, seed=1).train, s.train)


def test_bundled_splits_build_1000_crops_quickly():
    import time

    make_splits(10, 1, 1)  # load the photos once
    start = time.perf_counter()
    s = make_splits(1000, 0, 0)
    assert s.train.shape == (1000, 128, 128)
    assert time.perf_counter() - start < 20.0  # a few seconds on one core; generous for CI


def test_normalizer_matches_the_paper_definition():
    rng = np.random.default_rng(0)
    images = rng.random((5, 16, 12))
    n = Normalizer.fit(images)
    assert n.mean == pytest.approx(images.mean(), rel=1e-14)
    assert n.column_std == pytest.approx(np.std(images, axis=1).mean(), rel=1e-14)
    z = n.transform(images)
    assert z.mean() == pytest.approx(0.0, abs=1e-12)
    assert np.std(z, axis=1).mean() == pytest.approx(16.433, rel=1e-12)


def test_normalizer_round_trips_numpy_and_torch():
    rng = np.random.default_rng(1)
    n = Normalizer.fit(rng.random((4, 8, 8)))
    x = rng.random((3, 8, 8))
    np.testing.assert_allclose(n.inverse_transform(n.transform(x)), x, rtol=0, atol=1e-13)
    xt = torch.from_numpy(x)
    back = n.inverse_transform(n.transform(xt))
    assert isinstance(back, torch.Tensor) and back.dtype == torch.float64
    torch.testing.assert_close(back, xt, rtol=0, atol=1e-13)
    assert n.transform(xt.float()).dtype == torch.float32


def test_normalizer_statistics_come_from_the_training_split_only():
    s = make_splits(40, 10, 10)
    n = s.fit_normalizer()
    assert n == Normalizer.fit(s.train)
    assert n != Normalizer.fit(np.concatenate([s.train, s.test]))


def test_normalizer_serialises():
    n = Normalizer.fit(np.random.default_rng(2).random((2, 8, 8)))
    d = json.loads(json.dumps(n.to_dict()))
    assert Normalizer.from_dict(d) == n


def test_normalizer_errors():
    with pytest.raises(ValueError, match="train_images must have 3 dimensions"):
        Normalizer.fit(np.ones((8, 8)))
    with pytest.raises(ValueError, match="column std is 0"):
        Normalizer.fit(np.ones((2, 8, 8)))
    with pytest.raises(ValueError, match="train_images contains NaN"):
        Normalizer.fit(np.full((2, 8, 8), np.nan))
    with pytest.raises(ValueError, match="column_std must be > 0"):
        Normalizer(0.5, -1.0)
    with pytest.raises(ValueError, match="missing the keys"):
        Normalizer.from_dict({"mean": 0.5})
    with pytest.raises(TypeError, match="d must be a dict"):
        Normalizer.from_dict([0.5, 0.1, 16.4])


def test_make_splits_errors(tmp_path):
    with pytest.raises(ValueError, match="n_train must be given"):
        make_splits(None, 1, 1)
    with pytest.raises(ValueError, match="needs caltech_root"):
        make_splits(1, 1, 1, source="caltech256")
    with pytest.raises(ValueError, match="caltech_root is only used"):
        make_splits(1, 1, 1, caltech_root=tmp_path)
    with pytest.raises(ValueError, match="source must be 'bundled' or 'caltech256'"):
        make_splits(1, 1, 1, source="imagenet")
    with pytest.raises(ValueError, match="n_val must be >= 0"):
        make_splits(1, -1, 1)
    with pytest.raises(FileNotFoundError):
        make_splits(1, 1, 1, source="caltech256", caltech_root=tmp_path / "nope")


# ------------------------------------------------------------------------------------------
# sequences, measurements, the torch dataset
# ------------------------------------------------------------------------------------------
def test_sequences_are_image_columns_and_round_trip():
    images = np.random.default_rng(0).random((3, 16, 10))
    seq = images_to_sequences(images)
    assert seq.shape == (10, 3, 16)
    np.testing.assert_array_equal(seq[4, 2], images[2, :, 4])
    np.testing.assert_array_equal(sequences_to_images(seq), images)
    t = images_to_sequences(torch.from_numpy(images))
    assert isinstance(t, torch.Tensor)
    np.testing.assert_array_equal(t.numpy(), seq)
    with pytest.raises(ValueError, match="images must have 3 dimensions"):
        images_to_sequences(images[0])


def test_measure_is_A_times_each_column():
    rng = np.random.default_rng(0)
    A = paper_measurement_matrix(8, 16)
    y = rng.standard_normal((5, 3, 16))
    x = measure(y, A)
    assert x.shape == (5, 3, 8)
    np.testing.assert_allclose(x[2, 1], A @ y[2, 1], rtol=1e-13)
    xt = measure(torch.from_numpy(y).float(), A)
    assert isinstance(xt, torch.Tensor) and xt.dtype == torch.float64
    with pytest.raises(ValueError, match="y must have 16 entries"):
        measure(y[..., :15], A)
    with pytest.raises(ValueError, match="A must have 2 dimensions"):
        measure(y, A[0])


def test_dataset_and_time_major_batches():
    s = make_splits(7, 0, 0)
    A = paper_measurement_matrix()
    n = s.fit_normalizer()
    ds = CompressiveSensingDataset(s.train, A, n)
    assert len(ds) == 7
    x, y = ds[3]
    assert x.shape == (128, 32) and y.shape == (128, 128) and x.dtype == torch.float32
    expected_y = n.transform(s.train[3]).T  # row t is column t of the normalised image
    np.testing.assert_allclose(y.numpy(), expected_y, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(x.numpy(), expected_y @ A.T, rtol=1e-5, atol=1e-4)
    loader = torch.utils.data.DataLoader(ds, batch_size=3, collate_fn=collate_time_major)
    xb, yb = next(iter(loader))
    assert xb.shape == (128, 3, 32) and yb.shape == (128, 3, 128)
    torch.testing.assert_close(yb[:, 1], ds[1][1])
    ds64 = CompressiveSensingDataset(s.train, A, None, dtype=torch.float64)
    assert ds64[0][1].dtype == torch.float64
    np.testing.assert_allclose(ds64[0][1].numpy(), s.train[0].T)  # raw pixels, explicitly


def test_dataset_errors():
    A = paper_measurement_matrix()
    images = np.random.default_rng(0).random((2, 128, 128))
    with pytest.raises(ValueError, match="A must have 128 columns"):
        CompressiveSensingDataset(images, A[:, :64], None)
    with pytest.raises(TypeError, match="normalizer must be a Normalizer or None"):
        CompressiveSensingDataset(images, A, {"mean": 0.5})
    with pytest.raises(TypeError, match="dtype must be torch.float32 or torch.float64"):
        CompressiveSensingDataset(images, A, None, dtype=torch.float16)
    with pytest.raises(ValueError, match="images must have 3 dimensions"):
        CompressiveSensingDataset(images[0], A, None)
    with pytest.raises(ValueError, match="batch is empty"):
        collate_time_major([])


def test_module_exports_exist():
    for name in data.__all__:
        assert hasattr(data, name)


def test_square_photo_is_the_resized_centre_square():
    from skimage.transform import resize

    from sista_lib.data import load_photo, square_photo

    im = square_photo("astronaut", size=64)
    assert im.shape == (64, 64) and im.min() >= 0.0 and im.max() <= 1.0
    full = load_photo("astronaut")  # already square: the centre square is the whole photo
    assert full.shape[0] == full.shape[1]
    np.testing.assert_allclose(im, np.clip(resize(full, (64, 64), order=3, anti_aliasing=True), 0, 1))
    wide = load_photo("coffee")     # landscape: the centre square keeps the middle columns
    rows, cols = wide.shape
    left = (cols - rows) // 2
    np.testing.assert_allclose(square_photo("coffee", rows),
                               np.clip(resize(wide[:, left:left + rows], (rows, rows), order=3,
                                              anti_aliasing=True), 0, 1))
    with pytest.raises(ValueError, match="size must be >= 1"):
        square_photo("coffee", 0)


def test_study_test_photos_and_their_validation():
    splits = make_splits(2, 2, 12, test_photos=STUDY_TEST_PHOTOS)
    used = {prov.split("[")[0] for prov in splits.provenance["test"]}
    assert used <= set(STUDY_TEST_PHOTOS) and used - set(TEST_PHOTOS)
    assert splits.photos["test"] == list(STUDY_TEST_PHOTOS)
    with pytest.raises(ValueError, match="share no photo"):
        make_splits(2, 2, 2, test_photos=("china", "camera"))
    with pytest.raises(TypeError, match="not a str"):
        make_splits(2, 2, 2, test_photos="china")


# ------------------------------------------------------------------------------------------
# the Caltech-256 loader on bad files (fixtures generated into tmp_path)
# ------------------------------------------------------------------------------------------
def _jpeg(path, array, **save):
    from PIL import Image

    Image.fromarray(array).save(path, format="JPEG", quality=95, **save)


def _good_folder(root, n=3):
    rng = np.random.default_rng(1)
    (root / "001.ak47").mkdir(parents=True)
    for i in range(n):
        _jpeg(root / "001.ak47" / f"001_{i + 1:04d}.jpg",
              rng.integers(0, 256, size=(120, 160, 3), dtype=np.uint8))
    return root / "001.ak47"


def test_a_truncated_jpeg_is_named_and_can_be_skipped(tmp_path):
    folder = _good_folder(tmp_path)
    bad = folder / "001_0002.jpg"
    bad.write_bytes(bad.read_bytes()[:600])
    with pytest.raises(ValueError, match=r"cannot load Caltech-256 image .*001_0002\.jpg: "
                                         r".*[Tt]runcated"):
        caltech256_images(tmp_path)
    with pytest.warns(data.BadImageWarning, match=r"skipped 1 of 3 Caltech-256 file\(s\) .*"
                                                  r"001_0002\.jpg"):
        images = caltech256_images(tmp_path, skip_bad=True)
    assert images.shape == (2, 128, 128)
    with pytest.raises(TypeError, match="skip_bad must be a bool"):
        caltech256_images(tmp_path, skip_bad="yes")


def test_skipped_files_are_left_out_of_the_splits_provenance(tmp_path):
    folder = _good_folder(tmp_path, n=10)
    (folder / "001_0004.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(ValueError, match=r"001_0004\.jpg"):
        make_splits(None, None, None, source="caltech256", caltech_root=tmp_path)
    with pytest.warns(data.BadImageWarning, match="skipped 1 of"):
        s = make_splits(None, None, None, source="caltech256", caltech_root=tmp_path,
                        skip_bad=True)
    kept = s.provenance["train"] + s.provenance["val"] + s.provenance["test"]
    assert len(kept) == 9 == sum(s.sizes().values())
    assert "001.ak47/001_0004.jpg" not in kept
    with pytest.raises(ValueError, match="skip_bad is only used with source='caltech256'"):
        make_splits(1, 1, 1, skip_bad=True)


def test_every_file_bad_is_an_error_even_when_skipping(tmp_path):
    (tmp_path / "001.ak47").mkdir()
    (tmp_path / "001.ak47" / "001_0001.jpg").write_bytes(b"garbage")
    with pytest.warns(data.BadImageWarning):
        with pytest.raises(ValueError, match=r"none of the 1 Caltech-256 file\(s\)"):
            caltech256_images(tmp_path, skip_bad=True)


def test_macos_resource_forks_and_hidden_folders_are_not_images(tmp_path):
    folder = _good_folder(tmp_path, n=2)
    (folder / "._001_0001.jpg").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (tmp_path / ".Trashes").mkdir()
    _jpeg(tmp_path / ".Trashes" / "x.jpg", np.zeros((64, 64), np.uint8))
    files = caltech256_files(tmp_path)
    assert [f.name for f in files] == ["001_0001.jpg", "001_0002.jpg"]
    assert caltech256_images(tmp_path).shape == (2, 128, 128)


def test_a_png_or_16_bit_file_named_jpg_is_refused_not_saturated(tmp_path):
    from PIL import Image

    folder = _good_folder(tmp_path, n=1)
    png = folder / "001_0002.jpg"
    Image.fromarray(np.full((100, 100, 3), 80, np.uint8)).save(png, format="PNG")
    with pytest.raises(ValueError, match=r"001_0002\.jpg: it is a PNG file, not a JPEG"):
        caltech256_images(tmp_path)
    deep = np.full((100, 100), 40000, np.uint16)  # saturates to white if squeezed to 8 bits
    Image.fromarray(deep).save(png, format="PNG")
    with pytest.raises(ValueError, match="it is a PNG file, not a JPEG"):
        caltech256_images(tmp_path)
    with Image.open(png) as im:
        assert im.mode.startswith("I")
        with pytest.raises(TypeError, match=r"8 bits per channel .* got a PIL image of mode "
                                            r"'I;16"):
            paper_preprocess(im)


def test_a_cmyk_jpeg_is_refused_with_its_mode(tmp_path):
    from PIL import Image

    folder = _good_folder(tmp_path, n=1)
    Image.new("CMYK", (100, 100), (0, 50, 100, 0)).save(folder / "001_0002.jpg", "JPEG")
    with pytest.raises(ValueError, match=r"001_0002\.jpg: its mode is 'CMYK', not an 8-bit grey "
                                         r"\('L'\) or RGB"):
        caltech256_images(tmp_path)


def test_the_exif_orientation_is_applied(tmp_path):
    from PIL import Image

    (tmp_path / "001.ak47").mkdir()
    f = tmp_path / "001.ak47" / "001_0001.jpg"
    rows = np.linspace(0, 255, 120)[:, None] * np.ones((1, 180))   # dark top, bright bottom
    picture = np.clip(rows + np.linspace(0, 60, 180)[None, :], 0, 255).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    _jpeg(f, picture, exif=exif)
    with Image.open(f) as im:
        stored = np.asarray(im)  # as encoded, not yet upright
    loaded = caltech256_images(tmp_path)[0]
    np.testing.assert_allclose(loaded, paper_preprocess(np.ascontiguousarray(np.rot90(stored, -1))))
    assert np.abs(loaded - paper_preprocess(stored)).max() > 0.5
    # upright, the dark side (the stored image's top) is on the right
    assert loaded[:, -10:].mean() < loaded[:, :10].mean()


def test_tiny_images_are_refused_with_the_minimum(tmp_path):
    folder = _good_folder(tmp_path, n=1)
    _jpeg(folder / "001_0002.jpg", np.full((1, 1, 3), 200, np.uint8))
    with pytest.raises(ValueError, match=r"001_0002\.jpg: image of 1 x 1 pixels is too small: "
                                         r"its shorter side is below min_side=32"):
        caltech256_images(tmp_path)
    assert caltech256_images(tmp_path, min_side=1).shape == (2, 128, 128)
    with pytest.raises(ValueError, match="below min_side=8"):
        paper_preprocess(np.zeros((7, 50), np.uint8), size=32)
    assert paper_preprocess(np.zeros((8, 50), np.uint8), size=32).shape == (32, 32)
    with pytest.raises(ValueError, match="min_side must be >= 1"):
        caltech256_images(tmp_path, min_side=0)


def test_paper_preprocess_flag_and_mode_errors():
    from PIL import Image

    with pytest.raises(TypeError, match="anti_aliasing must be a bool"):
        paper_preprocess(np.zeros((64, 64), np.uint8), anti_aliasing="no")
    palette = Image.new("P", (64, 64), 3)
    palette.putpalette([90, 90, 90] * 256)
    np.testing.assert_allclose(paper_preprocess(palette, 32), 90 / 255, atol=1e-12)
    with pytest.raises(TypeError, match="mode 'F'"):
        paper_preprocess(Image.fromarray(np.zeros((64, 64), np.float32)))
