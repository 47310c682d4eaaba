"""Write `pretrained/detector_images.npz`: the synthetic images a run's own outlier detector is fitted on.

Run: `make detector-fonts && python bench/write_detector_images.py [--per-kind 800] [--out PATH]` (a minute).

`core.runs.run_detector` fits each run's detector when its map is written, from these and from MNIST's own
training digits. They are made here, once, because they need fonts only this script installs (Debian's URW base35
and FreeFont) and a minute of CPU a run should not pay; none is made from MNIST (the repository ships no MNIST):

- non-digits: letters (half Greek and Cyrillic in DejaVu and Latin but `I` and `l` in Pillow's font, half Latin
  in URW base35 and FreeFont), scribbles and smudges (`non_digits`), `--per-kind` of each;
- digits: 1s drawn as one straight stroke (`stroke_digits.straight_ones`, half `--per-kind`), and digits printed
  in DejaVu's and Pillow's fonts and in the training fonts (three quarters of `--per-kind` each).

Seed 13: neither the bench's reported set (0), its tuning set (1) nor the shipped detector's (11). Stored as uint8.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from shared_machine import cpu_model  # noqa: E402

from not_a_digit import load_line  # noqa: E402

SEED = 13


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=800, help="non-digits of each kind (default 800)")
    parser.add_argument("--out", help="where to write (default: pretrained/detector_images.npz)")
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}; {load_line()}")

    from core.runs.atomic_files import atomic_path
    from core.runs.run_detector import DETECTOR_IMAGES_FILE
    from non_digits import (
        DETECTOR_FAMILY, detector_letters, letters_in, printed_digits, printed_in, scribbles, smudges, training_fonts,
    )
    from stroke_digits import straight_ones

    started = time.perf_counter()
    rng = np.random.default_rng(SEED)
    count = args.per_kind
    fonts = training_fonts()
    non_digits = {"letters (Greek/Cyrillic in DejaVu, Latin in Pillow's font)": detector_letters(count, rng),
                  "letters in URW base35 and FreeFont": letters_in(fonts, count, rng),
                  "scribbles": scribbles(count, rng), "smudges": smudges(count, rng)}
    printed = count * 3 // 4
    digits = {"1s drawn as one straight stroke": straight_ones(count // 2, rng),
              "digits printed in DejaVu's and Pillow's fonts": printed_digits(printed, rng, DETECTOR_FAMILY, with_pillow=True),
              "digits printed in URW base35 and FreeFont": printed_in(fonts, printed, rng)}
    about = (f"synthetic non-digits ({', '.join(f'{len(v):,} {k}' for k, v in non_digits.items())}) and digits "
             f"({', '.join(f'{len(v):,} {k}' for k, v in digits.items())}), seed {SEED}, from bench/write_detector_images.py")
    out = Path(args.out) if args.out else DETECTOR_IMAGES_FILE

    def as_bytes(images: dict) -> np.ndarray:
        return np.round(np.concatenate(list(images.values())) * 255).astype(np.uint8)

    with atomic_path(out, suffix=".npz") as temporary:
        with open(temporary, "wb") as file:
            np.savez_compressed(file, non_digits=as_bytes(non_digits), digits=as_bytes(digits),
                                meta=np.array(json.dumps({"about": about})))
    print(f"{about}\nmade in {time.perf_counter() - started:.1f} s; wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    print(f"CPU: {cpu_model()}; {load_line()}")


if __name__ == "__main__":
    main()
