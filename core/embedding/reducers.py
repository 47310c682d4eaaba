"""From many feature vectors to a few dimensions: PCA in NumPy, then openTSNE (or UMAP, for the bench) to 2-D.

PCA first brings the features (84 to 1,024 values) down to `PCA_COMPONENTS`, which keeps the
nearest-neighbour structure and makes the neighbour search cheap; its first two components are
also the map's linear view. The 2-D view is openTSNE's t-SNE, with a shortened schedule
(`TSNE_EXAGGERATION_ITERATIONS` + `TSNE_ITERATIONS`, half of openTSNE's 250 + 500): ~10 s of CPU
for 5,000 digits here, every time. UMAP was measured beside it (`bench/results/not_a_digit.txt`):
~2-4 s of CPU once compiled, but numba compiles its layout code again in every fresh process
(~39 s of CPU; umap-learn does not cache it), which a worker would pay on its first map, past the
20-s budget; and `import umap` imports TensorFlow where it is installed. Both libraries are imported
here only, lazily: in a worker or the CLI, never in the web server. UMAP stays callable for the
bench, where umap-learn is installed (it is not in requirements.txt).
"""

from __future__ import annotations

import numpy as np

PCA_COMPONENTS = 50
TSNE_EXAGGERATION_ITERATIONS = 125  # openTSNE's default 250: the clusters form within half of it on 5,000 points
TSNE_ITERATIONS = 250  # openTSNE's default 500
# Exact nearest neighbours (one brute-force pass) instead of openTSNE's Annoy index for 5,000 points: ~1 s of CPU
# less, the same map (trustworthiness, 10-NN kept and label agreement equal: bench/results/embedding_map.txt).
TSNE_NEIGHBOURS = "exact"
UMAP_NEIGHBOURS = 15  # umap-learn's default
UMAP_MIN_DIST = 0.1  # umap-learn's default
METHODS = ("tsne", "umap")


def fit_pca(features: np.ndarray, components: int = PCA_COMPONENTS) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the top principal directions of `features`.

    Args:
        features: float `(n, d)`.
        components: how many directions (at most `min(n, d)`).

    Returns:
        `(mean, basis)`: float32 `(d,)` and `(d, k)`, `k = min(components, n, d)`; project with
        `(x - mean) @ basis`. Each direction's sign is fixed (its largest entry positive), so
        the same features give the same map.
    """
    features = np.asarray(features, dtype=np.float64)
    mean = features.mean(axis=0)
    centred = features - mean
    # The (d, d) scatter matrix's eigenvectors are the SVD's right singular vectors: one matmul and a small
    # eigendecomposition instead of an SVD of the (n, d) matrix, whose many small BLAS calls each wait for the
    # second core on a busy machine (bench/results/embedding_map.txt).
    _, vectors = np.linalg.eigh(centred.T @ centred)  # ascending eigenvalues
    basis = vectors[:, ::-1][:, : min(components, *features.shape)]
    signs = np.sign(basis[np.abs(basis).argmax(axis=0), np.arange(basis.shape[1])])
    return mean.astype(np.float32), (basis * np.where(signs == 0, 1.0, signs)).astype(np.float32)


def umap_2d(reduced: np.ndarray, seed: int = 0) -> np.ndarray:
    """UMAP of `reduced` to 2-D, float32 `(n, 2)`; seeded (one thread). Needs umap-learn, which is not a requirement.

    Raises:
        ImportError: when umap-learn is not installed, saying so.
    """
    try:
        import umap
    except ImportError as error:
        raise ImportError(f"The umap view needs umap-learn, which the lab does not install ({error}). "
                          "Use method='tsne', or `pip install umap-learn==0.5.12`.") from None

    reducer = umap.UMAP(n_components=2, n_neighbors=UMAP_NEIGHBOURS, min_dist=UMAP_MIN_DIST, random_state=seed)
    return np.asarray(reducer.fit_transform(np.asarray(reduced, dtype=np.float32)), dtype=np.float32)


def tsne_2d(reduced: np.ndarray, seed: int = 0) -> np.ndarray:
    """openTSNE's t-SNE of `reduced` to 2-D, float32 `(n, 2)`; seeded, on one thread.

    One thread: on two cores shared with the web server (and possibly a training), a second one
    buys little and slows the pages; openTSNE's default perplexity (30) and PCA initialisation.
    """
    from openTSNE import TSNE

    tsne = TSNE(n_components=2, random_state=seed, n_jobs=1, early_exaggeration_iter=TSNE_EXAGGERATION_ITERATIONS,
                n_iter=TSNE_ITERATIONS, neighbors=TSNE_NEIGHBOURS, verbose=False)
    return np.asarray(tsne.fit(np.asarray(reduced, dtype=np.float64)), dtype=np.float32)


def reduce_2d(reduced: np.ndarray, method: str, seed: int = 0) -> np.ndarray:
    """`reduced` mapped to 2-D by `method` (`"tsne"`, or `"umap"` where umap-learn is installed).

    Raises:
        ValueError: for another method.
    """
    if method == "umap":
        return umap_2d(reduced, seed)
    if method == "tsne":
        return tsne_2d(reduced, seed)
    raise ValueError(f"Received an invalid value for `method`: {method!r}. Pass one of {list(METHODS)}.")
