"""Build the digits data file shipped inside the package.

    python scripts/make_digits.py [path/to/digits.csv.gz]

The source is UCI "Optical Recognition of Handwritten Digits" (Alpaydin &
Kaynak, 1998, CC BY 4.0, doi:10.24432/C50P49): the 1,797 8x8 images of its
test set, as copied into scikit-learn (`sklearn/datasets/data/digits.csv.gz`:
64 pixel counts 0..16, then the label, one image per line). Without a path
the script looks for that file in an installed scikit-learn; to get one
without installing it:

    pip download --no-deps scikit-learn -d /tmp/skl
    unzip /tmp/skl/scikit_learn-*.whl 'sklearn/datasets/data/digits.csv.gz' -d /tmp/skl

It writes `optlessons/_data/digits.npz` (`images` uint8 (1797, 8, 8),
`labels` uint8 (1797,)) and the credit text `optlessons/_data/digits.txt`.
Nothing downloads at run time: the package only ever reads these two files.
"""

import argparse
import gzip
import hashlib
import importlib.util
import pathlib
import sys

import numpy as np

OUT_DIR = pathlib.Path(__file__).resolve().parent.parent / "optlessons" / "_data"

CREDIT = """\
Optical Recognition of Handwritten Digits
=========================================

File: digits.npz (images: uint8 array (1797, 8, 8), pixel counts 0..16;
labels: uint8 array (1797,), digits 0..9).

Source: UCI Machine Learning Repository,
  E. Alpaydin and C. Kaynak (1998). Optical Recognition of Handwritten Digits.
  https://doi.org/10.24432/C50P49
  https://archive.ics.uci.edu/dataset/80/optical+recognition+of+handwritten+digits
Licence: Creative Commons Attribution 4.0 International (CC BY 4.0),
  https://creativecommons.org/licenses/by/4.0/

These are the 1,797 images of the UCI test set (optdigits.tes), 13 writers,
taken from the copy shipped with scikit-learn (sklearn/datasets/data/digits.csv.gz).
Each 32x32 bitmap was divided into non-overlapping 4x4 blocks and the "on"
pixels counted in each block, giving an 8x8 image of integers 0..16.
Changes made here: stored as numpy arrays (images reshaped to 8x8); values
unchanged. Built by scripts/make_digits.py; source file sha256: {sha256}
"""


def find_csv():
    """Path of digits.csv.gz inside an installed scikit-learn, or None."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = pathlib.Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.csv.gz"
    return path if path.exists() else None


def read_csv(path):
    """(images uint8 (n, 8, 8), labels uint8 (n,)) from the CSV (gzip or plain)."""
    path = pathlib.Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 65:
        raise ValueError(f"{path}: expected 65 columns (64 pixels + label), got shape {table.shape}")
    pixels, labels = table[:, :64], table[:, 64]
    if pixels.min() < 0 or pixels.max() > 16:
        raise ValueError(f"{path}: pixel values outside 0..16")
    if set(np.unique(labels)) != set(range(10)):
        raise ValueError(f"{path}: labels are not the digits 0..9")
    return pixels.reshape(-1, 8, 8).astype(np.uint8), labels.astype(np.uint8)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", nargs="?", help="digits.csv.gz (default: the one in an installed scikit-learn)")
    parser.add_argument("--out", default=str(OUT_DIR), help="output directory (default: %(default)s)")
    args = parser.parse_args(argv)
    csv = pathlib.Path(args.csv) if args.csv else find_csv()
    if csv is None:
        sys.exit("no CSV given and scikit-learn is not installed; see this script's docstring")
    images, labels = read_csv(csv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "digits.npz", images=images, labels=labels)
    sha256 = hashlib.sha256(csv.read_bytes()).hexdigest()
    (out / "digits.txt").write_text(CREDIT.format(sha256=sha256))
    counts = np.bincount(labels, minlength=10)
    print(f"wrote {out / 'digits.npz'}: {len(labels)} images, per class {counts.tolist()}")


if __name__ == "__main__":
    main()
