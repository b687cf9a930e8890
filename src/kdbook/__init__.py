"""kdbook: the library behind the executable book on knowledge distillation and ensembles."""

__version__ = "0.1.0"

from .errors import ConfigError, DatasetUnavailable, KDBookError, TrainingDiverged  # noqa: E402

__all__ = ["ConfigError", "DatasetUnavailable", "KDBookError", "TrainingDiverged", "__version__"]
