"""nbae: Numba-accelerated dense autoencoders.

Heavy modules (NumPy kernels, Numba) load lazily so that ``nbae --help`` starts fast.
"""

__version__ = "0.1.0"

__all__ = ["Autoencoder", "__version__"]


def __getattr__(name):
    if name == "Autoencoder":
        from nbae.engine.model import Autoencoder

        return Autoencoder
    raise AttributeError(f"module 'nbae' has no attribute {name!r}")
