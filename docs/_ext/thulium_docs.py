"""The provider's own Sphinx extension: the checks and generated pages of ``make docs``.

- Every parameter of a documented public function, method or class has a ``:param name:`` line:
  an undocumented one is a warning, so the strict build (``-W``) fails on it.
- The performance page's figures (``_generated/performance-figures.md``) are written from the
  ``make bench`` report in ``docs/benchmark-results.json``.
- The sandbox's demo data and control endpoints (``_generated/sandbox-demo-data.md``) are written
  from the seed at each build, as ``python -m airflow_provider_thulium.sandbox --describe`` prints them.
- A cross-reference by short name (``:class:`ThuliumSettings```) links to the one documented
  object of that name; one naming something real that is not documented (a standard library
  class, an internal helper) is shown as code without a link; one naming nothing stays broken,
  so the nitpicky build fails on a typo.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path
from typing import Any

from docutils import nodes
from generated_parts import write_generated
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.nodes import make_refnode

PACKAGE = "airflow_provider_thulium"
logger = logging.getLogger(__name__)


def _signature_parameters(what: str, obj: Any) -> list[str]:
    """The names a caller passes: the constructor's for a class, without ``self`` and ``cls``."""
    target = obj.__init__ if what == "class" else obj
    if what == "class" and not getattr(target, "__module__", "").startswith(PACKAGE):
        return []  # a constructor inherited from outside the package (a TypedDict, an exception)
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return []
    names = list(signature.parameters)
    if names and names[0] in ("self", "cls") and (what == "class" or not isinstance(obj, staticmethod)):
        names = names[1:]
    return names


def check_parameters(app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """Warn about each parameter of a documented callable that has no ``:param name:`` line."""
    if what not in ("function", "method", "class") or not name.startswith(PACKAGE):
        return
    defined_in = getattr(obj, "__module__", None) or ""
    if not defined_in.startswith(PACKAGE) or not (name.startswith(defined_in + ".") or options.get("imported_members")):
        return  # imported into the module documented, not rendered there
    documented = set(re.findall(r":param (?:[^:]*\s)?(\*{0,2}\w+):", "\n".join(lines)))
    documented |= {n.lstrip("*") for n in documented}
    missing = [p for p in _signature_parameters(what, obj) if p not in documented]
    if missing:
        try:
            location: str | None = f"{inspect.getsourcefile(obj)}:{inspect.getsourcelines(obj)[1]}"
        except (OSError, TypeError):
            location = None
        logger.warning(
            "%s %s: no ':param %s:' in its docstring",
            what,
            name,
            ":', ':param ".join(missing),
            type="thulium",
            subtype="param",
            location=location,
        )


def _lookup(path: str) -> bool:
    """Whether a dotted path names an importable module or an attribute of one."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except Exception:  # noqa: S112  # any import failure means: try a shorter module path
            continue
        try:
            for attr in parts[cut:]:
                found = getattr(found, attr)
        except AttributeError:
            return False
        return True
    return False


def resolve_short_names(app: Sphinx, env: Any, node: Any, contnode: nodes.Element) -> nodes.Element | None:
    """Link a short name to its one documented object; show a real but undocumented one as code."""
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip("~.")
    documented = env.domains["py"].objects
    matches = [full for full in documented if full == target or full.endswith("." + target)]
    if len({documented[m].node_id for m in matches}) == 1:
        entry = documented[matches[0]]
        return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, matches[0])
    module, klass = node.get("py:module") or "", node.get("py:class") or ""
    candidates = [target, f"{module}.{target}", f"{module}.{klass}.{target}"]
    if any(_lookup(c) for c in candidates if not c.startswith(".")):
        return contnode
    # A name that a module of the package defines or imports (a docstring citing a constant of its own module).
    first = target.split(".")[0]
    if any(name.startswith(PACKAGE) and hasattr(module, first) for name, module in list(sys.modules.items())):
        return contnode
    return None


def generate_pages(app: Sphinx) -> None:
    """Write the generated parts that pages include, before Sphinx reads the sources."""
    write_generated(Path(app.srcdir))


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the checks and the generated parts."""
    app.connect("builder-inited", generate_pages)
    app.connect("autodoc-process-docstring", check_parameters)
    app.connect("missing-reference", resolve_short_names)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
