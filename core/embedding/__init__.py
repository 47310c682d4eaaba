"""A map of what a model learned: its penultimate activations for test digits, reduced to 2-D.

- `reducers.py`: PCA (NumPy), and openTSNE's t-SNE (imported only where a map is computed: in a
  worker or the CLI, never in the web server; UMAP for the bench);
- `embedding_map.py`: `EmbeddingMap`, the 2-D map of 5,000 test digits saved with a run
  (`embedding.npz`), and a new image placed on it with its nearest test and training digits,
  in NumPy (what the web server does for a drawing);
- `epoch_maps.py`: `EpochMaps`, the same digits at each kept epoch of a run (`embedding_epochs.npz`): each
  epoch's own PCA view, aligned with its neighbours' by orthogonal Procrustes, and its predictions.

May import: core.config, core.data, core.models, core.novelty.
"""
