r"""Images, column sequences and compressive measurements for the paper's experiment.

The paper (Wisdom et al. 2017) recovers natural images column by column: each 128x128 greyscale
image is a sequence of :math:`T = 128` columns :math:`y_t \in \mathbb{R}^{128}`, observed through
:math:`x_t = A y_t` with :math:`A \in \mathbb{R}^{32 \times 128}`. It used Caltech-256. That
data set cannot be downloaded here, so the default data are photos bundled with installed
packages (:data:`PHOTOS`, credits in the book's image-credits page):

- training and validation: random 128x128 crops (random scale, position and flips) of
  scikit-image's photos, partitioned *by photo* (:data:`TRAIN_PHOTOS`, :data:`VAL_PHOTOS`);
- test: crops of the photos of other packages (:data:`TEST_PHOTOS`: scikit-learn's china and
  flower, PyWavelets' aero and ascent), never seen in training.

A reader with a local copy of Caltech-256 gets the paper's data with
``make_splits(..., source="caltech256", caltech_root=...)``.

Everything the experiment and the chapters need comes from :func:`make_splits`;
:class:`Normalizer` applies the paper's normalisation, :func:`images_to_sequences` and
:func:`measure` build :math:`(x_t, y_t)`, and :class:`CompressiveSensingDataset` serves them to a
torch ``DataLoader`` (time-major batches with :func:`collate_time_major`).
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ._checks import ArrayLike, check_finite, check_ndim, check_positive_int, check_scalar, like
from ._checks import _describe, check_bool, check_seed, common_dtype, dtype_name, to_torch

__all__ = [
    "Photo",
    "CropInfo",
    "PHOTOS",
    "TRAIN_PHOTOS",
    "VAL_PHOTOS",
    "TEST_PHOTOS",
    "PAPER_TARGET_STD",
    "list_photos",
    "load_photo",
    "square_photo",
    "to_grey",
    "make_crops",
    "paper_preprocess",
    "caltech256_files",
    "caltech256_images",
    "BadImageWarning",
    "CALTECH_MODES",
    "Normalizer",
    "images_to_sequences",
    "sequences_to_images",
    "measure",
    "CompressiveSensingDataset",
    "collate_time_major",
    "Splits",
    "make_splits",
    "STUDY_TEST_PHOTOS",
]

#: The paper's normalised per-column standard deviation (``std_cols`` in the released code).
PAPER_TARGET_STD = 16.433

#: Rec. 601 luma weights (R, G, B), as the paper's preprocessing (and PIL's "L" mode).
_LUMA = np.array([0.299, 0.587, 0.114])


# --------------------------------------------------------------------------------------------
# the registry of bundled photos
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Photo:
    """A photo shipped inside an installed package, with what its package documents about it."""

    name: str
    package: str
    loader: str
    licence: str
    attribution: str


def _skimage(name: str) -> np.ndarray:
    import skimage.data

    return getattr(skimage.data, name)()


def _sklearn(name: str) -> np.ndarray:
    from sklearn.datasets import load_sample_image

    return load_sample_image(name)


def _pywt(name: str) -> np.ndarray:
    import pywt.data

    return getattr(pywt.data, name)()


def _skimage_motorcycle(name: str) -> np.ndarray:
    import skimage.data

    return skimage.data.stereo_motorcycle()[0]  # the left view only: the pair is one scene


def _matplotlib(name: str) -> np.ndarray:
    import matplotlib.cbook
    import matplotlib.image

    with matplotlib.cbook.get_sample_data(name) as f:
        return matplotlib.image.imread(f, format="jpeg")


_LOADERS: dict[str, Callable[[str], np.ndarray]] = {
    "scikit-image": _skimage,
    "scikit-learn": _sklearn,
    "PyWavelets": _pywt,
    "scikit-image (stereo pair)": _skimage_motorcycle,
    "matplotlib": _matplotlib,
}

_SK = "scikit-image"
_PHOTO_LIST = [
    Photo("camera", _SK, "skimage.data.camera()", "CC0",
          "Photographer Lav Varshney (replaces the older MIT cameraman image)."),
    Photo("astronaut", _SK, "skimage.data.astronaut()", "public domain",
          "Astronaut Eileen Collins; NASA Great Images database (https://flic.kr/p/r9qvLn)."),
    Photo("coffee", _SK, "skimage.data.coffee()", "CC0",
          "Courtesy of Pikolo Espresso Bar; photographer Rachel Michetti."),
    Photo("chelsea", _SK, "skimage.data.chelsea()", "CC0",
          "Chelsea the cat; photographer Stefan van der Walt."),
    Photo("rocket", _SK, "skimage.data.rocket()", "public domain",
          "Launch of DSCOVR on Falcon 9; SpaceX Photos on Flickr "
          "(https://www.flickr.com/photos/spacexphotos/16511594820/)."),
    Photo("brick", _SK, "skimage.data.brick()", "CC0",
          "CC0Textures 'Bricks25', perspective-corrected, rotated, cropped and scaled by "
          "scikit-image."),
    Photo("grass", _SK, "skimage.data.grass()", "CC0",
          "DeviantArt, linolafett 'Grass-01' (https://www.deviantart.com/linolafett/art/"
          "Grass-01-434853879), cropped and converted to grey by scikit-image."),
    Photo("gravel", _SK, "skimage.data.gravel()", "CC0",
          "CC0Textures 'Gravel04', rescaled, cropped and converted to grey by scikit-image."),
    Photo("coins", _SK, "skimage.data.coins()", "no known copyright restrictions",
          "Greek coins from Pompeii; Brooklyn Museum Collection."),
    Photo("moon", _SK, "skimage.data.moon()", "not stated by the package",
          "Surface of the moon; scikit-image's docstring gives no source."),
    Photo("clock", _SK, "skimage.data.clock()", "public domain",
          "Motion-blurred wall clock; photographer Stefan van der Walt."),
    Photo("hubble_deep_field", _SK, "skimage.data.hubble_deep_field()", "public domain",
          "Hubble eXtreme Deep Field; NASA, via HubbleSite."),
    Photo("immunohistochemistry", _SK, "skimage.data.immunohistochemistry()",
          "no known copyright restrictions",
          "Colonic glands, IHC staining; Center for Microscopy And Molecular Imaging (CMMI)."),
    Photo("retina", _SK, "skimage.data.retina()", "CC0 1.0",
          "Fundus photograph of a normal left eye, Mikael Haggstrom; Wikimedia Commons."),
    Photo("china", "scikit-learn", "sklearn.datasets.load_sample_image('china.jpg')",
          "CC BY 2.0",
          "Some rights reserved by danielbuechele (Flickr); retrieved 21 August 2011 by "
          "Robert Layton."),
    Photo("flower", "scikit-learn", "sklearn.datasets.load_sample_image('flower.jpg')",
          "CC BY 2.0",
          "scikit-learn's README credits danielbuechele and links the Flickr photostream of "
          "vultilion (https://www.flickr.com/photos/vultilion/6056698931/); retrieved "
          "21 August 2011 by Robert Layton."),
    Photo("aero", "PyWavelets", "pywt.data.aero()", "not stated by the package",
          "Aerial photograph; PyWavelets' docstring gives no source."),
    Photo("ascent", "PyWavelets", "pywt.data.ascent()", "public domain",
          "Derived from accent-to-the-top.jpg at public-domain-image.com (PyWavelets' "
          "docstring)."),
    Photo("motorcycle", "scikit-image (stereo pair)", "skimage.data.stereo_motorcycle()[0]",
          "not stated by the package",
          "Left view of the 'Motorcycle' scene of the Middlebury 2014 stereo benchmark (Nesic, "
          "Westling, Wang, Kitajima, Krathwohl and Scharstein), down-sampled 4x by scikit-image."),
    Photo("grace_hopper", "matplotlib",
          "matplotlib.cbook.get_sample_data('grace_hopper.jpg')", "public domain",
          "Commodore Grace M. Hopper, official U.S. Navy photograph (a work of the U.S. "
          "federal government); matplotlib's sample data states no licence."),
]

#: Every usable photo by name. PyWavelets' ``camera`` is deliberately absent: it is the same
#: photo as scikit-image's and could leak between training and test.
PHOTOS: dict[str, Photo] = {p.name: p for p in _PHOTO_LIST}

#: The default partition by source photo: 11 scikit-image photos for training ...
TRAIN_PHOTOS: tuple[str, ...] = (
    "camera", "astronaut", "coffee", "rocket", "brick", "grass", "moon", "clock",
    "hubble_deep_field", "immunohistochemistry", "retina",
)
#: ... 3 others for validation (a cat, coins on a background, a gravel texture) ...
VAL_PHOTOS: tuple[str, ...] = ("chelsea", "coins", "gravel")
#: ... and the other packages' photos for the test set.
TEST_PHOTOS: tuple[str, ...] = ("china", "flower", "aero", "ascent")
#: The study's test set: :data:`TEST_PHOTOS` and two more photos no other split uses.
STUDY_TEST_PHOTOS: tuple[str, ...] = TEST_PHOTOS + ("motorcycle", "grace_hopper")

_SPLIT_PHOTOS = {"train": TRAIN_PHOTOS, "val": VAL_PHOTOS, "test": TEST_PHOTOS}


def list_photos(split: str | None = None) -> list[str]:
    """Names of the bundled photos, all of them or those of ``split`` ("train", "val", "test")."""
    if split is None:
        return list(PHOTOS)
    if not isinstance(split, str) or split not in _SPLIT_PHOTOS:
        raise ValueError(f"split must be None, 'train', 'val' or 'test', got {split!r}")
    return list(_SPLIT_PHOTOS[split])


def to_grey(image: Any) -> np.ndarray:
    r"""Greyscale as float64: :math:`0.299 R + 0.587 G + 0.114 B` (Rec. 601), values unscaled.

    Accepts ``(H, W)`` (returned as float64), ``(H, W, 3)`` or ``(H, W, 4)`` (alpha dropped).

    Raises
    ------
    TypeError
        If ``image`` is not a real numeric array.
    ValueError
        On another shape, or NaN/infinite values in the grey levels' channels.
    """
    arr = np.asarray(image)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"image must be a real numeric array, got dtype {arr.dtype}")
    if arr.ndim == 2:
        channels = arr
    elif arr.ndim == 3 and arr.shape[-1] in (3, 4):
        channels = arr[..., :3]
    else:
        raise ValueError(f"image must have shape (H, W), (H, W, 3) or (H, W, 4), got {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(channels).all():
        raise ValueError("image contains NaN or infinite values")
    if arr.ndim == 2:
        return arr.astype(np.float64)
    return channels.astype(np.float64) @ _LUMA


@functools.lru_cache(maxsize=None)
def _photo(name: str) -> np.ndarray:
    photo = PHOTOS[name]
    raw = _LOADERS[photo.package](name + ".jpg" if photo.package in ("scikit-learn", "matplotlib")
                                  else name)
    if raw.dtype != np.uint8:
        raise RuntimeError(f"{photo.loader} returned dtype {raw.dtype}, expected uint8")
    grey = to_grey(raw) / 255.0
    grey.setflags(write=False)
    return grey


def _check_name(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(f"photo name must be a str, got {type(name).__name__}")
    if name not in PHOTOS:
        raise ValueError(f"unknown photo {name!r}; available: {', '.join(PHOTOS)}")
    return name


def load_photo(name: str) -> np.ndarray:
    """A bundled photo as greyscale float64 ``(H, W)`` in [0, 1] (uint8 / 255, Rec. 601 luma).

    Loaded offline from the installed package (see :data:`PHOTOS`); cached, returned as a copy.
    """
    return _photo(_check_name(name)).copy()


def _center_square(image: np.ndarray) -> np.ndarray:
    """The largest square centred in a 2-D image (a view, no copy)."""
    rows, cols = image.shape
    side = min(rows, cols)
    top, left = (rows - side) // 2, (cols - side) // 2
    return image[top:top + side, left:left + side]


def square_photo(name: str, size: int = 128) -> np.ndarray:
    """A bundled photo as one ``size x size`` image: its centre square, cubic-resized.

    The whole-photo view the chapters use for figures (the experiment uses random crops,
    :func:`make_crops`). Resizing is anti-aliased (scikit-image ``resize``, ``order=3``) and
    the result clipped to [0, 1].

    Returns
    -------
    (size, size) float64 ndarray in [0, 1]
    """
    from skimage.transform import resize

    size = check_positive_int(size, "size")
    im = load_photo(name)
    square = resize(_center_square(im), (size, size), order=3, anti_aliasing=True)
    return np.clip(square, 0.0, 1.0)


# --------------------------------------------------------------------------------------------
# random crops
# --------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _pyramid_level(name: str, level: int) -> np.ndarray:
    """The photo downscaled by 2**level (anti-aliased), cached."""
    from skimage.transform import resize

    photo = _photo(name)
    if level == 0:
        return photo
    shape = (max(1, photo.shape[0] >> level), max(1, photo.shape[1] >> level))
    out = resize(photo, shape, order=1, anti_aliasing=True, mode="reflect")
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class CropInfo:
    """Where a crop came from: its photo, window (in the photo's pixels) and flips."""

    photo: str
    top: int
    left: int
    side: int
    flip_horizontal: bool
    flip_vertical: bool

    def __str__(self) -> str:
        flips = ("h" if self.flip_horizontal else "") + ("v" if self.flip_vertical else "")
        rows = f"{self.top}:{self.top + self.side}"
        cols = f"{self.left}:{self.left + self.side}"
        return f"{self.photo}[{rows},{cols}]" + (f" flip {flips}" if flips else "")


def make_crops(
    photo_names: Sequence[str],
    n_crops: int,
    size: int = 128,
    seed: int = 0,
    *,
    flips: bool = True,
    scale_range: tuple[float, float] = (0.25, 1.0),
    return_info: bool = False,
):
    r"""Random square crops of bundled photos, downscaled to ``size x size``.

    For each crop: a photo chosen uniformly from ``photo_names``; a window side
    :math:`s = f \cdot \min(H, W)` with :math:`f` log-uniform in ``scale_range`` (never below
    ``size``: crops are never upscaled); a uniformly random position; the window resized to
    ``size x size`` with scikit-image's anti-aliased ``resize`` (from a cached power-of-two
    pyramid, so a large window costs no more than a small one); then, with ``flips``, a
    horizontal and a vertical flip each with probability 1/2. The same random draws are made
    whether or not ``flips`` is set, so ``flips=False`` gives the same crops unflipped.

    Parameters
    ----------
    photo_names : sequence of str
        Names from :data:`PHOTOS`.
    n_crops : int
        Number of crops (>= 1).
    size : int, default 128
    seed : int, default 0
        Seed of ``numpy.random.default_rng`` (>= 0): the crops are a deterministic function of
        it.
    flips : bool, default True
    scale_range : (float, float), default (0.25, 1.0)
        Bounds of :math:`f`, the window side as a fraction of the photo's shorter side,
        ``0 < low <= high <= 1``.
    return_info : bool, default False
        Also return a list of :class:`CropInfo`, one per crop.

    Returns
    -------
    crops : (n_crops, size, size) float64 ndarray in [0, 1]
    info : list of CropInfo, only if ``return_info``
    """
    from skimage.transform import resize

    if isinstance(photo_names, str) or not isinstance(photo_names, Sequence):
        raise TypeError("photo_names must be a sequence of photo names (e.g. a list of str)")
    names = [_check_name(n) for n in photo_names]
    if not names:
        raise ValueError("photo_names is empty")
    n_crops = check_positive_int(n_crops, "n_crops")
    size = check_positive_int(size, "size", minimum=8)
    seed = check_seed(seed)
    flips = check_bool(flips, "flips")
    return_info = check_bool(return_info, "return_info")
    if isinstance(scale_range, (str, bytes)) or not isinstance(scale_range, (Sequence, np.ndarray)):
        raise TypeError(f"scale_range must be a pair (low, high) of fractions in (0, 1], got "
                        f"{_describe(scale_range)}")
    if len(scale_range) != 2:
        raise ValueError(f"scale_range must be (low, high), got {scale_range!r}")
    low = check_scalar(scale_range[0], "scale_range[0]", positive=True)
    high = check_scalar(scale_range[1], "scale_range[1]", positive=True)
    if not low <= high <= 1.0:
        raise ValueError(f"scale_range must satisfy 0 < low <= high <= 1, got {scale_range!r}")
    for name in names:
        if min(_photo(name).shape) < size:
            raise ValueError(
                f"photo {name!r} of shape {_photo(name).shape} is smaller than size={size}"
            )

    rng = np.random.default_rng(seed)
    which = rng.integers(len(names), size=n_crops)
    fraction = np.exp(rng.uniform(math.log(low), math.log(high), size=n_crops))
    u_top, u_left = rng.random(n_crops), rng.random(n_crops)
    flip_h, flip_v = rng.random(n_crops) < 0.5, rng.random(n_crops) < 0.5

    crops = np.empty((n_crops, size, size))
    info = []
    for i in range(n_crops):
        name = names[which[i]]
        H, W = _photo(name).shape
        side = int(np.clip(round(fraction[i] * min(H, W)), size, min(H, W)))
        top = int(u_top[i] * (H - side + 1))
        left = int(u_left[i] * (W - side + 1))
        level = max(0, int(math.floor(math.log2(side / size))))
        level_image = _pyramid_level(name, level)
        k = 2**level
        s0 = min(max(size, side // k), *level_image.shape)
        t0 = min(top // k, level_image.shape[0] - s0)
        l0 = min(left // k, level_image.shape[1] - s0)
        window = level_image[t0:t0 + s0, l0:l0 + s0]
        crop = window if s0 == size else resize(window, (size, size), order=1,
                                                 anti_aliasing=True, mode="reflect")
        if flips and flip_h[i]:
            crop = crop[:, ::-1]
        if flips and flip_v[i]:
            crop = crop[::-1, :]
        crops[i] = crop
        info.append(CropInfo(name, top, left, side, bool(flips and flip_h[i]),
                             bool(flips and flip_v[i])))
    np.clip(crops, 0.0, 1.0, out=crops)
    return (crops, info) if return_info else crops


# --------------------------------------------------------------------------------------------
# the paper's preprocessing and Caltech-256
# --------------------------------------------------------------------------------------------
#: PIL modes whose samples are 8 bits: :func:`paper_preprocess` converts them to RGB (``"L"`` and
#: ``"RGB"`` are taken as they are). Other modes (16-bit ``"I;16"``, 32-bit ``"I"`` and ``"F"``)
#: are refused: squeezing them into 0..255 needs a scale that only their owner knows.
_PIL_8BIT_MODES = frozenset({"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX",
                             "CMYK", "YCbCr", "LAB", "HSV"})


def _pil_to_uint8(image: Any) -> np.ndarray:
    mode = image.mode
    if mode in ("L", "RGB"):
        return np.asarray(image)
    if mode in _PIL_8BIT_MODES:
        return np.asarray(image.convert("RGB"))
    raise TypeError(
        f"image must have 8 bits per channel (a uint8 array or a PIL image of mode 'L', "
        f"'RGB', ...), got a PIL image of mode {mode!r}: convert it to 8 bits first, choosing "
        f"the scale (a plain conversion would saturate it)"
    )


def _min_side(min_side: Any, size: int) -> int:
    if min_side is None:
        return max(1, math.ceil(size / 4))
    return check_positive_int(min_side, "min_side")


def paper_preprocess(image: Any, size: int = 128, *, anti_aliasing: bool = False,
                     min_side: int | None = None) -> np.ndarray:
    r"""The paper's preprocessing of one photo: centre square crop, cubic resize, grey, /255.

    1. Crop the centred square of side :math:`\min(H, W)`.
    2. Convert to grey with the Rec. 601 weights :math:`0.299R + 0.587G + 0.114B` (the released
       code applies them to OpenCV's BGR channel order, i.e. swaps the red and blue weights; this
       function uses them as intended).
    3. Resize to ``size x size`` with cubic interpolation (scikit-image, ``order=3``; like
       OpenCV's ``INTER_CUBIC`` in the released code, without anti-aliasing by default).
    4. Divide by 255 and clip to [0, 1] (cubic interpolation overshoots slightly at edges;
       the released code did not clip).

    Parameters
    ----------
    image : uint8 array (H, W), (H, W, 3) or (H, W, 4), or a PIL image
        A PIL image must have 8 bits per channel (``"L"``, ``"RGB"``, or another 8-bit mode,
        converted to RGB); 16- and 32-bit modes are refused rather than saturated.
    size : int, default 128
    anti_aliasing : bool, default False
        Gaussian pre-filter before downscaling (scikit-image's option).
    min_side : int, optional
        The smallest shorter side accepted, in pixels. Default ``ceil(size / 4)`` (32 for
        ``size=128``): a smaller image would be upscaled more than 4 times, which invents the
        picture rather than resizing it (a 1 x 1 image would become a flat square). Pass
        ``min_side=1`` to accept any image.

    Returns
    -------
    (size, size) float64 ndarray in [0, 1]

    Raises
    ------
    TypeError
        If ``image`` is not uint8 / 8-bit.
    ValueError
        On a bad shape, or an image whose shorter side is below ``min_side``.
    """
    from skimage.transform import resize

    if hasattr(image, "convert") and hasattr(image, "mode"):  # PIL image
        image = _pil_to_uint8(image)
    if not isinstance(image, np.ndarray):
        raise TypeError(
            f"image must be a uint8 NumPy array or a PIL image, got {type(image).__name__}"
        )
    if image.dtype != np.uint8:
        raise TypeError(f"image must have dtype uint8 (values 0..255), got {image.dtype}")
    size = check_positive_int(size, "size")
    anti_aliasing = check_bool(anti_aliasing, "anti_aliasing")
    smallest = _min_side(min_side, size)
    grey = to_grey(image)
    if min(grey.shape) < smallest:
        raise ValueError(
            f"image of {grey.shape[0]} x {grey.shape[1]} pixels is too small: its shorter side is "
            f"below min_side={smallest} (at size={size}, the default min_side is ceil(size / 4); "
            f"pass min_side=1 to upscale it anyway)"
        )
    out = resize(_center_square(grey), (size, size), order=3, mode="reflect",
                 anti_aliasing=anti_aliasing, preserve_range=True)
    return np.clip(out / 255.0, 0.0, 1.0)


_IMAGE_SUFFIXES = {".jpg", ".jpeg"}

#: The PIL modes a Caltech-256 file may have: 8-bit grey and 8-bit RGB JPEGs, as the paper's data.
CALTECH_MODES = ("L", "RGB")


class BadImageWarning(UserWarning):
    """Issued when the Caltech-256 loader, asked to (``skip_bad=True``), skipped files it could
    not load; the message gives their count and the first few names with the reason."""


def caltech256_files(root: str | Path) -> list[Path]:
    """The image files of a local Caltech-256 copy, sorted by category folder then file name.

    ``root`` is the folder holding the category folders (``001.ak47`` ... ``257.clutter``), or
    its parent when that holds a single ``256_ObjectCategories`` folder (the archive's layout).
    Only JPEG files (``.jpg``/``.jpeg``) directly inside category folders are listed; hidden
    files and folders (names starting with ``.``, e.g. the ``._*.jpg`` resource forks macOS
    leaves on other file systems) are skipped.

    Raises
    ------
    FileNotFoundError
        If ``root`` does not exist or is not a folder.
    ValueError
        If it holds no JPEG image in any sub-folder.
    """
    if not isinstance(root, (str, Path)):
        raise TypeError(f"root must be a path (str or pathlib.Path), got {type(root).__name__}")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"Caltech-256 folder not found: {root} (expected a folder of "
                                f"category folders such as 001.ak47/)")
    nested = root / "256_ObjectCategories"
    if nested.is_dir():
        root = nested
    files = sorted(
        f
        for category in root.iterdir() if category.is_dir() and not category.name.startswith(".")
        for f in category.iterdir()
        if not f.name.startswith(".") and f.suffix.lower() in _IMAGE_SUFFIXES and f.is_file()
    )
    if not files:
        raise ValueError(f"no JPEG images found in the category folders of {root}")
    return files


def _load_caltech_file(path: Path, size: int, min_side: int | None) -> np.ndarray:
    """One Caltech-256 file through :func:`paper_preprocess`; any failure is a ValueError that
    names the file."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as im:
            if im.format != "JPEG":
                raise ValueError(f"it is a {im.format or 'unknown'} file, not a JPEG (the paper's "
                                 f"data are JPEG files)")
            if im.mode not in CALTECH_MODES:
                raise ValueError(f"its mode is {im.mode!r}, not an 8-bit grey ('L') or RGB "
                                 f"('RGB') JPEG as the paper's data")
            im.load()  # decode the whole file now: a truncated one fails here
            upright = ImageOps.exif_transpose(im)  # the orientation the camera recorded
            return paper_preprocess(upright, size, min_side=min_side)
    except Exception as exc:  # noqa: BLE001 - every failure gets the file's name
        raise ValueError(f"cannot load Caltech-256 image {path}: {exc}") from exc


def _load_files(
    files: Sequence[Path], size: int, *, skip_bad: bool = False, min_side: int | None = None
) -> tuple[np.ndarray, list[Path]]:
    """Load ``files``; returns the stack and the files it holds (all of them unless
    ``skip_bad``, which skips failing files with one :class:`BadImageWarning`)."""
    out = np.empty((len(files), size, size))
    kept: list[Path] = []
    bad: list[str] = []
    for f in files:
        try:
            image = _load_caltech_file(f, size, min_side)
        except ValueError as exc:
            if not skip_bad:
                raise
            bad.append(str(exc).replace("cannot load Caltech-256 image ", "", 1))
            continue
        out[len(kept)] = image
        kept.append(f)
    if bad:
        shown = "; ".join(bad[:5]) + ("; ..." if len(bad) > 5 else "")
        warnings.warn(
            f"skipped {len(bad)} of {len(files)} Caltech-256 file(s) that could not be loaded: "
            f"{shown}",
            BadImageWarning,
            stacklevel=3,
        )
    return (out if len(kept) == len(files) else out[: len(kept)].copy()), kept


def caltech256_images(
    root: str | Path, *, limit: int | None = None, size: int = 128, skip_bad: bool = False,
    min_side: int | None = None,
) -> np.ndarray:
    """Load a local Caltech-256 folder with :func:`paper_preprocess`.

    Each file must be an 8-bit grey or RGB JPEG (:data:`CALTECH_MODES`; a PNG or a 16-bit file
    renamed ``.jpg`` is refused rather than saturated), decode completely (a truncated file is
    an error), and have a shorter side of at least ``min_side`` pixels. Its EXIF orientation
    is applied (``PIL.ImageOps.exif_transpose``) before the centre square is taken.

    Parameters
    ----------
    root : path
        See :func:`caltech256_files`.
    limit : int, optional
        Load only the first ``limit`` files (in :func:`caltech256_files` order).
    size : int, default 128
    skip_bad : bool, default False
        ``False``: the first file that cannot be loaded raises a ValueError naming it.
        ``True``: such files are skipped, and one :class:`BadImageWarning` gives their count and
        the first few names with the reason; the result then has fewer images than files.
    min_side : int, optional
        Smallest accepted shorter side; see :func:`paper_preprocess` (default ``ceil(size/4)``).

    Returns
    -------
    (n, size, size) float64 ndarray in [0, 1]. All 30,607 images take about 4 GB in float64.

    Raises
    ------
    ValueError
        On a file that cannot be loaded (unless ``skip_bad``; then when none can).
    """
    files = caltech256_files(root)
    if limit is not None:
        files = files[: check_positive_int(limit, "limit")]
    size = check_positive_int(size, "size")
    skip_bad = check_bool(skip_bad, "skip_bad")
    _min_side(min_side, size)
    images, kept = _load_files(files, size, skip_bad=skip_bad, min_side=min_side)
    if not kept:
        raise ValueError(f"none of the {len(files)} Caltech-256 file(s) under {root} could be "
                         f"loaded (see the BadImageWarning)")
    return images


# --------------------------------------------------------------------------------------------
# normalisation, sequences, measurements
# --------------------------------------------------------------------------------------------
@dataclass
class Normalizer:
    r"""The paper's pixel normalisation, fitted on training images only.

    .. math::

        z = \frac{y - \mu}{\bar\sigma}\, \sigma_\star, \qquad
        y = \frac{z\, \bar\sigma}{\sigma_\star} + \mu,

    with :math:`\mu` the mean of every training pixel, :math:`\bar\sigma` the mean over all
    training image columns of each column's standard deviation (over its rows, ``ddof=0``), and
    :math:`\sigma_\star` = ``target_std`` (the paper's 16.433). Elementwise, so it applies to
    images ``(n, H, W)`` and to sequences ``(T, B, N)`` alike; NumPy or torch.
    """

    mean: float
    column_std: float
    target_std: float = PAPER_TARGET_STD

    def __post_init__(self) -> None:
        self.mean = check_scalar(self.mean, "mean")
        self.column_std = check_scalar(self.column_std, "column_std", positive=True)
        self.target_std = check_scalar(self.target_std, "target_std", positive=True)

    @classmethod
    def fit(cls, train_images: Any, target_std: float = PAPER_TARGET_STD) -> "Normalizer":
        """Fit on a stack of training images ``(n, H, W)`` (columns are the last axis)."""
        t = to_torch(train_images, "train_images").to(torch.float64)
        check_ndim(t, "train_images", 3)
        if t.numel() == 0:
            raise ValueError("train_images is empty")
        check_finite(t, "train_images")
        column_std = t.std(dim=-2, correction=0).mean()
        if float(column_std) == 0:
            raise ValueError("train_images have constant columns: the column std is 0")
        return cls(float(t.mean()), float(column_std), target_std)

    @property
    def scale(self) -> float:
        r""":math:`\sigma_\star / \bar\sigma`, the factor applied after centring."""
        return self.target_std / self.column_std

    def transform(self, images: ArrayLike) -> ArrayLike:
        """Normalise: ``(images - mean) * target_std / column_std``.

        Raises ValueError if ``images`` holds NaN or infinity, or the result overflows its
        dtype."""
        t = to_torch(images, "images")
        check_finite(t, "images")
        out = (t - self.mean) * self.scale
        if not bool(torch.isfinite(out).all()):
            raise ValueError(f"images overflow {dtype_name(out.dtype)} once normalised (scale "
                             f"{self.scale:.4g}): use float64")
        return like(out, images)

    def inverse_transform(self, normalised: ArrayLike) -> ArrayLike:
        """Undo :meth:`transform`: ``normalised * column_std / target_std + mean``.

        Non-finite values pass through unchanged in position (the estimate of a diverged model
        must reach the scorer, which names it), unlike :meth:`transform`."""
        t = to_torch(normalised, "normalised")
        return like(t / self.scale + self.mean, normalised)

    def to_dict(self) -> dict[str, float]:
        """Plain floats, JSON-serialisable."""
        return {"mean": self.mean, "column_std": self.column_std, "target_std": self.target_std}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Normalizer":
        """Inverse of :meth:`to_dict`."""
        if not isinstance(d, dict):
            raise TypeError(f"d must be a dict, got {type(d).__name__}")
        missing = {"mean", "column_std", "target_std"} - set(d)
        if missing:
            raise ValueError(f"d is missing the keys {sorted(missing)}")
        return cls(d["mean"], d["column_std"], d["target_std"])


def images_to_sequences(images: ArrayLike) -> ArrayLike:
    r"""Images ``(n, H, W)`` to time-major column sequences ``(T = W, n, N = H)``.

    :math:`y_t` of image :math:`i` is its column :math:`t`: ``seq[t, i, :] = images[i, :, t]``.
    """
    t = to_torch(images, "images")
    check_ndim(t, "images", 3)
    return like(t.permute(2, 0, 1).contiguous(), images)


def sequences_to_images(sequences: ArrayLike) -> ArrayLike:
    """Inverse of :func:`images_to_sequences`: ``(T, n, N)`` to ``(n, N, T)``."""
    t = to_torch(sequences, "sequences")
    check_ndim(t, "sequences", 3)
    return like(t.permute(1, 2, 0).contiguous(), sequences)


def measure(y: ArrayLike, A: ArrayLike) -> ArrayLike:
    r"""Compressive measurements :math:`x_t = A y_t`, batched: ``y`` ``(..., N)`` to ``(..., M)``.

    No noise is added (the paper's experiment is noiseless). The result has the kind of ``y``
    and the common float dtype of ``y`` and ``A``.

    Raises
    ------
    ValueError
        On mismatched shapes, NaN or infinity in ``y`` or ``A``, or a product that overflows.
    """
    yt = to_torch(y, "y")
    At = to_torch(A, "A")
    check_ndim(At, "A", 2)
    if yt.ndim < 1 or yt.shape[-1] != At.shape[1]:
        raise ValueError(
            f"y must have {At.shape[1]} entries in its last dimension (the columns of A), got "
            f"shape {tuple(yt.shape)}"
        )
    check_finite(yt, "y")
    check_finite(At, "A")
    dtype = common_dtype(yt, At)
    x = yt.to(dtype) @ At.to(dtype).T
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"the measurements x = A y overflow {dtype_name(dtype)}: use float64")
    return like(x, y)


class CompressiveSensingDataset(torch.utils.data.Dataset):
    r"""Pairs :math:`(x, y)` of one image each, for a torch ``DataLoader``.

    Image :math:`i` gives ``y`` of shape ``(T, N)`` (its normalised columns :math:`y_t`, time
    first) and ``x = y A^T`` of shape ``(T, M)``. Use ``collate_fn=collate_time_major`` to get
    time-major batches ``(T, B, M)``, ``(T, B, N)``.

    Parameters
    ----------
    images : (n, H, W) array in [0, 1]
    A : (M, H) array
        Measurement matrix.
    normalizer : Normalizer or None
        Fitted on the training split; ``None`` keeps raw pixels (explicitly).
    dtype : torch.dtype, default torch.float32
    """

    def __init__(self, images: ArrayLike, A: ArrayLike, normalizer: Normalizer | None,
                 *, dtype: torch.dtype = torch.float32) -> None:
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        if normalizer is not None and not isinstance(normalizer, Normalizer):
            raise TypeError(
                f"normalizer must be a Normalizer or None, got {type(normalizer).__name__}"
            )
        imgs = to_torch(images, "images").to(torch.float64)
        check_ndim(imgs, "images", 3)
        check_finite(imgs, "images")
        At = to_torch(A, "A").to(torch.float64)
        check_ndim(At, "A", 2)
        if At.shape[1] != imgs.shape[1]:
            raise ValueError(f"A must have {imgs.shape[1]} columns (the image height), got shape "
                             f"{tuple(At.shape)}")
        check_finite(At, "A")
        # In chunks, so that a large split never holds more than one float64 copy of itself.
        n, H, W = imgs.shape
        ys = [imgs.new_zeros((0, W, H), dtype=dtype)]
        xs = [imgs.new_zeros((0, W, At.shape[0]), dtype=dtype)]
        for start in range(0, n, 1024):
            chunk = imgs[start:start + 1024]
            if normalizer is not None:
                chunk = normalizer.transform(chunk)
            y = chunk.transpose(1, 2)  # (n, T = W, N = H)
            y_cast = y.to(dtype).contiguous()
            x_cast = (y @ At.T).to(dtype).contiguous()
            for what, t in (("y", y_cast), ("x = y A^T", x_cast)):
                if not bool(torch.isfinite(t).all()):
                    raise ValueError(f"images from index {start}: {what} overflows "
                                     f"{dtype_name(dtype)}: use dtype=torch.float64")
            ys.append(y_cast)
            xs.append(x_cast)
        self.y = torch.cat(ys) if len(ys) > 2 else ys[-1]
        self.x = torch.cat(xs) if len(xs) > 2 else xs[-1]
        self.A = At.to(dtype)
        self.normalizer = normalizer

    def __len__(self) -> int:
        return self.y.shape[0]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]


def collate_time_major(batch: Sequence[tuple[torch.Tensor, torch.Tensor]]):
    """Stack ``(x, y)`` pairs along dimension 1: ``(T, B, M)`` and ``(T, B, N)``."""
    if len(batch) == 0:
        raise ValueError("batch is empty")
    for i, pair in enumerate(batch):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2
                and all(isinstance(t, torch.Tensor) for t in pair)):
            raise TypeError(f"batch[{i}] must be a pair (x, y) of tensors, got "
                            f"{_describe(pair)}")
        if (pair[0].shape, pair[1].shape) != (batch[0][0].shape, batch[0][1].shape):
            raise ValueError(
                f"batch[{i}] has shapes x {tuple(pair[0].shape)}, y {tuple(pair[1].shape)}, but "
                f"batch[0] has x {tuple(batch[0][0].shape)}, y {tuple(batch[0][1].shape)}"
            )
    xs, ys = zip(*batch)
    return torch.stack(xs, dim=1), torch.stack(ys, dim=1)


# --------------------------------------------------------------------------------------------
# the three splits
# --------------------------------------------------------------------------------------------
@dataclass
class Splits:
    """Training, validation and test images in [0, 1], with where each came from.

    ``provenance[split][i]`` describes image ``i`` of that split (a crop of a bundled photo or a
    Caltech-256 file path relative to the root); ``photos[split]`` lists the source photos (for
    Caltech-256, the category folders).
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    source: str
    seed: int
    provenance: dict[str, list[str]] = field(default_factory=dict)
    photos: dict[str, list[str]] = field(default_factory=dict)

    def fit_normalizer(self, target_std: float = PAPER_TARGET_STD) -> Normalizer:
        """The paper's :class:`Normalizer`, fitted on the training split only."""
        return Normalizer.fit(self.train, target_std)

    def sizes(self) -> dict[str, int]:
        """Number of images per split."""
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def _cap(value: Any, name: str) -> int | None:
    if value is None:
        return None
    return check_positive_int(value, name, minimum=0)


def make_splits(
    n_train: int | None,
    n_val: int | None,
    n_test: int | None,
    seed: int = 2013,
    source: str = "bundled",
    caltech_root: str | Path | None = None,
    *,
    size: int = 128,
    scale_range: tuple[float, float] = (0.25, 1.0),
    test_photos: Sequence[str] | None = None,
    skip_bad: bool = False,
) -> Splits:
    """The single place the experiment and the chapters get their images from.

    ``source="bundled"`` (default): ``n_train`` crops of :data:`TRAIN_PHOTOS` (seed ``seed``),
    ``n_val`` of :data:`VAL_PHOTOS` (seed ``seed + 1``) and ``n_test`` of :data:`TEST_PHOTOS`
    (seed ``seed + 2``) from :func:`make_crops`: no photo is in two splits. ``test_photos``
    replaces :data:`TEST_PHOTOS` (e.g. :data:`STUDY_TEST_PHOTOS`); it must not share a photo
    with the other splits.

    ``source="caltech256"``: the files of ``caltech_root`` (:func:`caltech256_files`) are shuffled
    with ``numpy.random.RandomState(seed).permutation`` (the paper's generator and seed; the
    paper's file order is not recorded, so its exact split cannot be reproduced) and split
    80/10/10 as the paper; ``n_*`` then cap each split (``None``: all). Only the kept files are
    loaded, with :func:`paper_preprocess` (see :func:`caltech256_images` for what each file must
    be). ``skip_bad=True`` skips files that cannot be loaded, with one
    :class:`BadImageWarning` per split; the splits then hold fewer images and their
    ``provenance`` lists the files kept.

    Returns
    -------
    Splits
    """
    seed = check_seed(seed, below=2**32 if source == "caltech256" else None)
    size = check_positive_int(size, "size")
    skip_bad = check_bool(skip_bad, "skip_bad")
    caps = {k: _cap(v, f"n_{k}") for k, v in (("train", n_train), ("val", n_val), ("test", n_test))}
    if source == "bundled":
        if caltech_root is not None:
            raise ValueError("caltech_root is only used with source='caltech256'")
        if skip_bad:
            raise ValueError("skip_bad is only used with source='caltech256'")
        missing = [f"n_{k}" for k, v in caps.items() if v is None]
        if missing:
            raise ValueError(f"{', '.join(missing)} must be given (an int) with source='bundled'")
        split_photos = dict(_SPLIT_PHOTOS)
        if test_photos is not None:
            if isinstance(test_photos, str):
                raise TypeError("test_photos must be a sequence of photo names, not a str")
            split_photos["test"] = tuple(_check_name(n) for n in test_photos)
            shared = set(split_photos["test"]) & (set(TRAIN_PHOTOS) | set(VAL_PHOTOS))
            if shared or not split_photos["test"]:
                raise ValueError(f"test_photos must be non-empty and share no photo with the "
                                 f"training or validation photos, got {list(test_photos)}")
        stacks, provenance = {}, {}
        for offset, split in enumerate(("train", "val", "test")):
            if caps[split] == 0:
                stacks[split], provenance[split] = np.empty((0, size, size)), []
                continue
            crops, info = make_crops(split_photos[split], caps[split], size, seed + offset,
                                     scale_range=scale_range, return_info=True)
            stacks[split], provenance[split] = crops, [str(c) for c in info]
        photos = {k: list(v) for k, v in split_photos.items()}
        return Splits(stacks["train"], stacks["val"], stacks["test"], "bundled", int(seed),
                      provenance, photos)
    if source == "caltech256":
        if test_photos is not None:
            raise ValueError("test_photos is only used with source='bundled'")
        if caltech_root is None:
            raise ValueError("source='caltech256' needs caltech_root, the folder of Caltech-256")
        files = caltech256_files(caltech_root)
        root = files[0].parent.parent
        order = np.random.RandomState(seed).permutation(len(files))
        files = [files[i] for i in order]
        i1, i2 = int(np.floor(0.8 * len(files))), int(np.floor(0.9 * len(files)))
        parts = {"train": files[:i1], "val": files[i1:i2], "test": files[i2:]}
        stacks, provenance, photos = {}, {}, {}
        for split, part in parts.items():
            if caps[split] is not None:
                part = part[: caps[split]]
            stacks[split], part = _load_files(part, size, skip_bad=skip_bad)
            provenance[split] = [str(f.relative_to(root)) for f in part]
            photos[split] = sorted({f.parent.name for f in part})
        return Splits(stacks["train"], stacks["val"], stacks["test"], "caltech256", int(seed),
                      provenance, photos)
    raise ValueError(f"source must be 'bundled' or 'caltech256', got {source!r}")
