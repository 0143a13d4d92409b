"""Install the repository's three top folders as one import namespace.

``adapters/``, ``training/`` and ``console/`` sit beside ``botkit/`` so that the folder tree shows the
architecture, but installed they live under ``botkit.`` (``botkit.adapters``, ``botkit.training``,
``botkit.console``): a top-level ``adapters``
would collide with AdapterHub's package of that name on the index. Everything else is in pyproject.toml.
"""

from setuptools import find_namespace_packages, setup

# import name -> folder in the repository
ROOTS = {
    "botkit": "botkit",
    "botkit.adapters": "adapters",
    "botkit.training": "training",
    "botkit.console": "console",
}


def packages() -> list[str]:
    """Every package under each root, data folders included (they ship the default model and presets)."""
    found: list[str] = []
    for name, folder in ROOTS.items():
        found.append(name)
        found += [f"{name}.{sub}" for sub in find_namespace_packages(folder, exclude=["*__pycache__*"])]
    return found


setup(package_dir=ROOTS, packages=packages())
