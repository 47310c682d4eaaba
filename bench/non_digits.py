"""Things that are not digits, drawn as a visitor would draw them on Draw's canvas, for bench/not_a_digit.py.

Each kind is made on a 280x280 canvas (Draw's size: white ink on black), then turned into the
28x28 model input exactly as Draw does (`core.drawing.preprocess.canvas_to_input`), so the check
is measured on what it will see:

- `letters`: A-Z and a-z rendered with Debian's TrueType fonts (DejaVu, Liberation: `fc-list`),
  in several fonts, sizes, places and slants;
- `scribbles`: random strokes of a random brush width, 2 to 6 segments each, some curved;
- `side_by_side`: two test digits next to each other (the pair is cropped and scaled as one drawing);
- `smudges`: soft blobs and a few wide smears of various sizes and inks.

`tuning_non_digits` makes a second set that the bench never reports on, for choosing signals and their
weights (`core/novelty/`): Greek and Cyrillic letters in the same fonts and Latin letters in Pillow's own
font (Aileron, not a Debian font) instead of the reported Latin letters, scribbles and smudges from another
seed, and pairs of training digits instead of test digits.

`detector_non_digits` and `detector_digits` make what the outlier detector (`core.novelty.outlier_detector`) is
fitted on, by `bench/fit_outlier_detector.py`: the tuning kinds again from other seeds, with Greek and Cyrillic
letters in the DejaVu family alone (the Liberation family is held out: the bench reports the Latin letters of each
family apart), plus Latin letters in fonts the reported set never uses (`TRAINING_FONT_FOLDERS`: Debian's
URW base35 and GNU FreeFont, installed for the fit only: `make detector-fonts`), and as digits training digits as
they are, drawn through Draw's preprocessing, traced with Draw's brush along their skeletons
(`core.novelty.drawn_images.traced_digits`), and printed in DejaVu's, Pillow's and the training fonts
(`printed_digits`; the Liberation family's printed digits are the check that the detector did not learn "typed"
for "not a digit").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from core.novelty.drawn_images import CANVAS, digit_pairs, ink_to_input as to_input, redrawn_digits, traced_digits

FONT_FOLDERS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation"))
# Fonts only the outlier detector's fit draws letters and digits in (Debian's fonts-urw-base35, fonts-freefont-ttf):
# never the reported set's, so its letters stay in families the detector did not see
TRAINING_FONT_FOLDERS = (Path("/usr/share/fonts/opentype/urw-base35"), Path("/usr/share/fonts/truetype/freefont"))
TRAINING_FONT_PACKAGES = "fonts-urw-base35 fonts-freefont-ttf"
NOT_LETTER_FONTS = ("StandardSymbols", "D050000L")  # URW's symbol and dingbat fonts
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# The Latin letters the detector is fitted on: all but the bare vertical bars "I" and "l", which a straight drawn 1 is
# (fitted with them, the detector flagged 10% of drawn straight 1s, bench/results/not_a_digit.txt); the reported set
# keeps them, so the bench counts them among the letters it should flag
DETECTOR_LATIN = LETTERS.replace("I", "").replace("l", "")
# For tuning only: Greek and Cyrillic letters whose shapes differ from the Latin ones (no Α, Β, Ε, О, ...)
TUNING_GLYPHS = "ΓΔΘΛΞΠΣΦΨΩαβγδεζηθλμξπσφψωБГДЖЗИЛФЦЧШЩЪЫЭЮЯбвгджзилфцчшщыэюя"
TUNING_SEED = 1  # the reported set is seed 0
DETECTOR_SEED = 11  # what the outlier detector is fitted on: neither the reported set nor the bench's tuning set


def debian_fonts() -> list[Path]:
    """Debian's TrueType fonts found on this machine (DejaVu and Liberation), sorted; [] if none."""
    return sorted(path for folder in FONT_FOLDERS if folder.is_dir() for path in folder.glob("*.ttf")
                  if "Math" not in path.name)


def training_fonts() -> list[Path]:
    """The fonts only the detector's fit uses (`TRAINING_FONT_FOLDERS`), sorted.

    Raises:
        FileNotFoundError: if they are not installed (the message says how to install them).
    """
    fonts = sorted(path for folder in TRAINING_FONT_FOLDERS if folder.is_dir()
                   for path in [*folder.glob("*.otf"), *folder.glob("*.ttf")] if not path.name.startswith(NOT_LETTER_FONTS))
    if not fonts:
        raise FileNotFoundError(f"None of the detector's training fonts is installed (looked in "
                                f"{', '.join(map(str, TRAINING_FONT_FOLDERS))}). Install Debian's {TRAINING_FONT_PACKAGES} "
                                f"(`make detector-fonts`, needs root or sudo) and run again.")
    return fonts


def render_letter(letter: str, font_path: Path | None, size: int, rng: np.random.Generator) -> np.ndarray:
    """One letter, white on black, on Draw's canvas, slanted a little; `font_path=None`: Pillow's own font."""
    font = ImageFont.truetype(str(font_path), size) if font_path else ImageFont.load_default(size)
    canvas = Image.new("L", (CANVAS, CANVAS), 0)
    draw = ImageDraw.Draw(canvas)
    left, top, right, bottom = draw.textbbox((0, 0), letter, font=font)
    x = (CANVAS - (right - left)) / 2 - left + rng.integers(-30, 31)
    y = (CANVAS - (bottom - top)) / 2 - top + rng.integers(-30, 31)
    draw.text((x, y), letter, fill=255, font=font)
    canvas = canvas.rotate(float(rng.uniform(-12, 12)), resample=Image.Resampling.BILINEAR)
    return np.asarray(canvas)


def letters(count: int, rng: np.random.Generator, fonts_used: list | None = None) -> np.ndarray:
    """Latin letters in Debian's fonts; `fonts_used`, when given, gets each letter's font (None: Pillow's)."""
    fonts = debian_fonts() or [None]
    made = []
    for i in range(count):
        font = fonts[rng.integers(len(fonts))]
        if fonts_used is not None:
            fonts_used.append(font)
        made.append(to_input(render_letter(LETTERS[i % len(LETTERS)], font, int(rng.integers(120, 220)), rng)))
    return np.stack(made)


def family_fonts(family: str) -> list[Path]:
    """Debian's fonts of one family (`"DejaVu"`, `"Liberation"`)."""
    return [font for font in debian_fonts() if font.name.startswith(family)]


DETECTOR_FAMILY = "DejaVu"  # the one Debian family the detector's letters and printed digits are drawn in
HELD_OUT_FAMILY = "Liberation"


def printed_digits(count: int, rng: np.random.Generator, family: str, with_pillow: bool = False) -> np.ndarray:
    """Digits 0-9 printed in one family's fonts (and every other one in Pillow's font, `with_pillow`), as Draw sees them."""
    fonts = family_fonts(family) or [None]
    return np.stack([to_input(render_letter(str(i % 10), None if with_pillow and i % 2 else fonts[rng.integers(len(fonts))],
                                            int(rng.integers(120, 220)), rng)) for i in range(count)])


def detector_letters(count: int, rng: np.random.Generator) -> np.ndarray:
    """Half Greek and Cyrillic letters in the DejaVu family, half Latin letters (`DETECTOR_LATIN`) in Pillow's own font."""
    fonts = family_fonts(DETECTOR_FAMILY)
    made = []
    for i in range(count):
        if i % 2 or not fonts:
            glyph, font = DETECTOR_LATIN[(i // 2) % len(DETECTOR_LATIN)], None
        else:
            glyph, font = TUNING_GLYPHS[(i // 2) % len(TUNING_GLYPHS)], fonts[rng.integers(len(fonts))]
        made.append(to_input(render_letter(glyph, font, int(rng.integers(120, 220)), rng)))
    return np.stack(made)


def detector_non_digits(count_per_kind: int, x_train: np.ndarray, seed: int = DETECTOR_SEED) -> dict[str, np.ndarray]:
    """What the outlier detector learns as non-digits: the tuning kinds from `seed`, and Latin letters in the training
    fonts (see the module docstring)."""
    rng = np.random.default_rng(seed)
    return {"letters": detector_letters(count_per_kind, rng), "scribbles": scribbles(count_per_kind, rng),
            "side_by_side": digit_pairs(count_per_kind, x_train, rng), "smudges": smudges(count_per_kind, rng),
            "letters in training fonts": letters_in(training_fonts(), count_per_kind, rng)}


def letters_in(fonts: list[Path], count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` of the detector's Latin letters (`DETECTOR_LATIN`) in turn, each in one of `fonts` drawn at random."""
    return np.stack([to_input(render_letter(DETECTOR_LATIN[i % len(DETECTOR_LATIN)], fonts[rng.integers(len(fonts))],
                                            int(rng.integers(120, 220)), rng)) for i in range(count)])


def detector_digits(x_train: np.ndarray, count_raw: int, count_redrawn: int, count_stroked: int, count_straight_ones: int,
                    count_printed: int, seed: int = DETECTOR_SEED) -> dict[str, np.ndarray]:
    """What the outlier detector learns as digits: training digits `x_train` (uint8, those the statistics did not
    fit on) as they are, drawn through Draw's preprocessing and traced with Draw's brush along their skeletons (each
    digit in one of the three), 1s drawn as one straight stroke (`stroke_digits.straight_ones`), and digits printed
    in DejaVu's and Pillow's fonts and in the training fonts."""
    from core.data.splits import to_model_input
    from stroke_digits import straight_ones

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x_train))
    if count_raw + count_redrawn + count_stroked > len(x_train):
        raise ValueError(f"Asked for {count_raw + count_redrawn + count_stroked:,} training digits; {len(x_train):,} given.")
    stroked = order[count_raw + count_redrawn:count_raw + count_redrawn + count_stroked]
    fonts = training_fonts()
    return {"training digits": to_model_input(x_train[order[:count_raw]])[..., 0],
            "training digits redrawn": redrawn_digits(x_train[order[count_raw:count_raw + count_redrawn]]),
            "training digits traced with Draw's brush": traced_digits(x_train[stroked], rng),
            "1s drawn as one straight stroke": straight_ones(count_straight_ones, rng),
            "printed digits": printed_digits(count_printed, rng, DETECTOR_FAMILY, with_pillow=True),
            "digits printed in training fonts": printed_in(fonts, count_printed, rng)}


def printed_in(fonts: list[Path], count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` digits 0-9 in turn, each printed in one of `fonts` drawn at random, as Draw sees them."""
    return np.stack([to_input(render_letter(str(i % 10), fonts[rng.integers(len(fonts))], int(rng.integers(120, 220)), rng))
                     for i in range(count)])


def tuning_letters(count: int, rng: np.random.Generator) -> np.ndarray:
    """Letters the bench does not report: half Greek and Cyrillic in Debian's fonts, half Latin in Pillow's font."""
    fonts = debian_fonts() or [None]
    made = []
    for i in range(count):
        if i % 2 or not debian_fonts():
            glyph, font = LETTERS[(i // 2) % len(LETTERS)], None
        else:
            glyph, font = TUNING_GLYPHS[(i // 2) % len(TUNING_GLYPHS)], fonts[rng.integers(len(fonts))]
        made.append(to_input(render_letter(glyph, font, int(rng.integers(120, 220)), rng)))
    return np.stack(made)


def scribbles(count: int, rng: np.random.Generator) -> np.ndarray:
    made = []
    for _ in range(count):
        canvas = Image.new("L", (CANVAS, CANVAS), 0)
        draw = ImageDraw.Draw(canvas)
        width = int(rng.integers(12, 30))
        points = [tuple(rng.uniform(20, CANVAS - 20, 2)) for _ in range(int(rng.integers(3, 8)))]
        if rng.random() < 0.5:  # curved: many points along a random smooth path
            t = np.linspace(0, 1, 40)
            anchors = np.array(points)
            path = [tuple(sum(anchors[k] * _bernstein(len(anchors) - 1, k, s) for k in range(len(anchors)))) for s in t]
            draw.line(path, fill=255, width=width, joint="curve")
        else:
            draw.line(points, fill=255, width=width, joint="curve")
        made.append(to_input(np.asarray(canvas)))
    return np.stack(made)


def _bernstein(n: int, k: int, t: float) -> float:
    from math import comb

    return comb(n, k) * t ** k * (1 - t) ** (n - k)


def smudges(count: int, rng: np.random.Generator) -> np.ndarray:
    made = []
    for _ in range(count):
        canvas = Image.new("L", (CANVAS, CANVAS), 0)
        draw = ImageDraw.Draw(canvas)
        for _ in range(int(rng.integers(1, 4))):
            x, y = rng.uniform(40, CANVAS - 40, 2)
            rx, ry = rng.uniform(15, 90, 2)
            ink = int(rng.integers(90, 256))
            if rng.random() < 0.3:  # a wide smear
                draw.line([(x - rx, y - ry), (x + rx, y + ry)], fill=ink, width=int(rng.integers(40, 80)))
            else:
                draw.ellipse([x - rx, y - ry, x + rx, y + ry], fill=ink)
        canvas = canvas.filter(ImageFilter.GaussianBlur(float(rng.uniform(4, 20))))
        made.append(to_input(np.asarray(canvas)))
    return np.stack(made)


def non_digits(count_per_kind: int, x_test: np.ndarray, seed: int = 0,
               letter_fonts: list | None = None) -> dict[str, np.ndarray]:
    """`count_per_kind` model inputs of each kind, float32 `(n, 28, 28)`, seeded; `letter_fonts` gets the letters' fonts."""
    rng = np.random.default_rng(seed)
    return {"letters": letters(count_per_kind, rng, letter_fonts), "scribbles": scribbles(count_per_kind, rng),
            "side_by_side": digit_pairs(count_per_kind, x_test, rng), "smudges": smudges(count_per_kind, rng)}


def tuning_non_digits(count_per_kind: int, x_train: np.ndarray, seed: int = TUNING_SEED) -> dict[str, np.ndarray]:
    """The tuning set: the same kinds, none of the reported images (see the module docstring), seeded."""
    rng = np.random.default_rng(seed)
    return {"letters": tuning_letters(count_per_kind, rng), "scribbles": scribbles(count_per_kind, rng),
            "side_by_side": digit_pairs(count_per_kind, x_train, rng), "smudges": smudges(count_per_kind, rng)}


# Letters as a learner draws them with the mouse: strokes of Draw's brush through points of a unit box (x right, y down)
DRAWN_LETTERS = {
    "A": [[(0.0, 1.0), (0.5, 0.0), (1.0, 1.0)], [(0.22, 0.6), (0.78, 0.6)]],
    "E": [[(1.0, 0.0), (0.0, 0.0), (0.0, 1.0), (1.0, 1.0)], [(0.0, 0.5), (0.8, 0.5)]],
    "F": [[(1.0, 0.0), (0.0, 0.0), (0.0, 1.0)], [(0.0, 0.5), (0.8, 0.5)]],
    "H": [[(0.0, 0.0), (0.0, 1.0)], [(1.0, 0.0), (1.0, 1.0)], [(0.0, 0.5), (1.0, 0.5)]],
    "K": [[(0.0, 0.0), (0.0, 1.0)], [(1.0, 0.0), (0.0, 0.55), (1.0, 1.0)]],
    "M": [[(0.0, 1.0), (0.0, 0.0), (0.5, 0.6), (1.0, 0.0), (1.0, 1.0)]],
    "N": [[(0.0, 1.0), (0.0, 0.0), (1.0, 1.0), (1.0, 0.0)]],
    "R": [[(0.0, 1.0), (0.0, 0.0), (0.8, 0.05), (0.9, 0.3), (0.7, 0.5), (0.0, 0.5)], [(0.4, 0.5), (1.0, 1.0)]],
    "T": [[(0.0, 0.0), (1.0, 0.0)], [(0.5, 0.0), (0.5, 1.0)]],
    "W": [[(0.0, 0.0), (0.25, 1.0), (0.5, 0.4), (0.75, 1.0), (1.0, 0.0)]],
    "X": [[(0.0, 0.0), (1.0, 1.0)], [(1.0, 0.0), (0.0, 1.0)]],
    "Y": [[(0.0, 0.0), (0.5, 0.5), (1.0, 0.0)], [(0.5, 0.5), (0.5, 1.0)]],
}


def drawn_letter(letter: str, rng: np.random.Generator) -> np.ndarray:
    """One of `DRAWN_LETTERS` drawn with a brush of 12-30 px on Draw's canvas, its points shaken a little."""
    canvas = Image.new("L", (CANVAS, CANVAS), 0)
    draw = ImageDraw.Draw(canvas)
    width, height = rng.uniform(110, 200), rng.uniform(150, 220)
    left, top = rng.uniform(20, CANVAS - 20 - width), rng.uniform(20, CANVAS - 20 - height)
    brush = int(rng.integers(12, 31))
    for stroke in DRAWN_LETTERS[letter]:
        points = [(left + (x + rng.normal(0, 0.04)) * width, top + (y + rng.normal(0, 0.04)) * height) for x, y in stroke]
        draw.line(points, fill=255, width=brush, joint="curve")
    return to_input(np.asarray(canvas))


def drawn_letters(count: int, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """`count` drawn letters, the `DRAWN_LETTERS` in turn, and their names."""
    rng = np.random.default_rng(seed)
    names = [sorted(DRAWN_LETTERS)[i % len(DRAWN_LETTERS)] for i in range(count)]
    return np.stack([drawn_letter(name, rng) for name in names]), names
