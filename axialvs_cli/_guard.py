"""Make sure `import models` found this distribution's network package, not another `models`."""

from __future__ import annotations


def check_models_package() -> None:
    """Exit with an actionable message when another package named `models` shadows ours."""
    import models

    if getattr(models, "__axialvs__", False):
        return
    where = getattr(models, "__file__", None) or str(list(getattr(models, "__path__", [])))
    raise SystemExit(
        f"Error: another package named 'models' ({where}) shadows the axialvs network package; "
        "run axialvs from another directory or uninstall the package that provides it."
    )
