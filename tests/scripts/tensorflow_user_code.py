"""A model function whose module imports TensorFlow first, as most do, and which refuses every configuration."""
import tensorflow  # noqa: F401  (loading it prints TensorFlow's C++ log lines, unless tunelab keeps them out)


def build(config, input_shape, num_classes):
    raise ValueError("this model refuses every configuration")
