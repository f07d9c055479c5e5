"""Sphinx configuration of the provider's documentation site (``make docs``)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).parent
sys.path[:0] = [str(DOCS / "_ext"), str(DOCS.parent)]
# autodoc imports Airflow: a throwaway home, so that building the docs writes no airflow.cfg of its own.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="thulium-docs-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

from airflow_provider_thulium import __version__  # noqa: E402  # importable once the repository is on the path

project = "airflow-provider-thulium"
author = "airflow-provider-thulium contributors"
copyright = "the airflow-provider-thulium contributors"  # Sphinx's own setting name
version = release = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "thulium_docs",
]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_generated", "snippets", "_ext"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = f"airflow-provider-thulium {release}"
html_static_path: list[str] = []

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_default_options = {"members": True, "show-inheritance": True}
