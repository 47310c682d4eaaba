"""MNIST and the arrays a run sees: loading and validating the file, splits, tf.data pipelines.

- `mnist.py`: find, read and check the real MNIST (`load_mnist`, `DatasetError`);
- `splits.py`: the train / validation / test arrays a config asks for;
- `input_pipeline.py`: the tf.data batches `fit` and `predict` read (TensorFlow imported lazily);
- `dataset_overview.py`: samples per class and class counts for the Data page.

May import: core.config.
"""
