"""Loads the compiled extension (which also registers the torch.library ops)."""
import torch  # noqa: F401  (the extension links against torch's libraries)

try:
    from . import _C
except ImportError as exc:  # pragma: no cover - exercised only on broken installs
    raise ImportError(
        "aiter: the compiled backend (aiter._C) could not be loaded: "
        f"{exc}. It must be built against the installed torch "
        f"({torch.__version__}); reinstall with "
        "`pip install --no-build-isolation .` in the source tree."
    ) from exc

ops = torch.ops.aiter
