"""The package's layout keeps its promises: drawn public surfaces, no circles, one documented map.

Read from the source files (``ast``), not by importing, so a circle hidden behind
``TYPE_CHECKING`` or a function-level import counts too.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PACKAGE = ROOT / "airflow_provider_thulium"
NAME = "airflow_provider_thulium"


def modules() -> dict[str, Path]:
    """Dotted module name → file, for every module of the package (a package by its ``__init__``)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path) -> list[tuple[str, list[str]]]:
    """(module imported, names imported from it) for every import in the file, at any depth."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module → the package's modules it imports; importing ``a.b.c`` also runs ``a.b``'s ``__init__``."""
    known = modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in known.items():
        for module, names in imports(name, path):
            targets = [module, *(f"{module}.{item}" for item in names)]
            for target in targets:
                parts = target.split(".")
                for end in range(2, len(parts) + 1):
                    prefix = ".".join(parts[:end])
                    if prefix in known and prefix != name and not name.startswith(prefix + "."):
                        graph[name].add(prefix)
    return graph


def test_no_module_imports_one_that_imports_it_back():
    graph = import_graph()
    circles = []
    for start in sorted(graph):
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    circles.append(" -> ".join([*path, start]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
    assert circles == []


def test_no_underscore_name_is_imported_from_another_module():
    files = [*PACKAGE.rglob("*.py"), *(ROOT / "tests").rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")]
    # The benchmarks import one another as top-level modules (the folder is their path).
    ours = (NAME, "tests", *(path.stem for path in (ROOT / "benchmarks").glob("*.py")))
    found = []
    for path in files:
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for module, names in imports(name, path):
            if module.split(".")[0] not in ours:
                continue
            private = [item for item in names if item.startswith("_") and not item.startswith("__")]
            private += [part for part in module.split(".") if part.startswith("_") and not part.startswith("__")]
            if private:
                found.append(f"{path.relative_to(ROOT)}: {module} {private}")
    assert found == []


def test_the_package_root_holds_at_most_a_dozen_modules():
    assert len(list(PACKAGE.glob("*.py"))) <= 12


#: Packages laid out as Airflow's own providers are: the classes in ``thulium.py``, the ``__init__`` a docstring.
AIRFLOW_LAYOUT = ("hooks", "operators", "sensors", "triggers")

#: Each package's public surface. A change here is a change of what the package offers.
SURFACES = {
    "": ["__version__"],
    "calls": [
        "ADD",
        "DELETE",
        "EDIT_EXISTING",
        "UPDATE",
        "Batch",
        "BatchResult",
        "CheckedCall",
        "OnSend",
        "Operation",
        "encode_lines",
        "stream_batches",
    ],
    "checks": [
        "ADD_ONLY_FIELDS",
        "ADD_RECORDS",
        "EDITABLE_FIELDS",
        "STATUS_NAME_FIELD",
        "UPDATE_RECORDS",
        "CampaignAgent",
        "CampaignStatus",
        "ColumnRows",
        "Columns",
        "PhoneNumbering",
        "RecordSpec",
        "RowNames",
        "check_agent_logins",
        "columns_in_normal_form",
        "normalize_campaign_id",
        "numbering_for",
        "parse_flag",
        "parse_max_removals",
        "parse_phone_numbers",
        "parse_records",
        "parse_update_fields",
        "phone_sender",
        "read_agents",
        "read_statuses",
        "records_from_columns",
        "resolve_status_names",
        "spelling_difference",
    ],
    "client": [
        "BatchResult",
        "CampaignAgent",
        "CampaignRead",
        "CampaignStatus",
        "CheckedCall",
        "OutcomePolicy",
        "RecordFilter",
        "SyncPlan",
        "ThuliumClient",
    ],
    "results": [
        "BatchLog",
        "DeferralState",
        "RecordResults",
        "ResultsFile",
        "ResultsWriter",
        "check_results_path",
        "outcome_counts",
        "results_format",
    ],
    "sync": [
        "DEFAULT_MAX_REMOVALS",
        "DEFAULT_UPDATE_FIELDS",
        "GUARD_PASSED",
        "GUARD_REFUSED",
        "SyncPlan",
        "SyncPlanner",
        "SyncRun",
        "SyncState",
        "build_plan",
        "check_guard",
        "state_file",
    ],
    "destinations": ["Destination", "FileDestination", "SqlDestination"],
    "files": ["check_writable", "local_path", "open_path", "paths_read", "same_file", "write_atomically"],
    "reading": [
        "PAGE_SIZE",
        "CampaignRead",
        "PageReader",
        "RecordFilter",
        "SeenRecords",
        "read_page",
        "read_pages",
        "record_key",
    ],
    "runs": ["OutcomePolicy", "RecordsRun", "Waiter"],
    "sandbox": ["Agent", "Campaign", "Fault", "Record", "RecordFilter", "RequestLog", "SandboxState", "ThuliumSandbox"],
    "sources": ["FileSource", "Source", "SqlSource"],
    "transport": ["Answer", "RetryPolicy", "Transport", "answer_limit", "error_class_for", "error_from_answer"],
}


def packages() -> list[str]:
    return sorted(".".join(path.parent.relative_to(PACKAGE).parts) for path in PACKAGE.rglob("__init__.py"))


def test_every_package_says_what_lives_where_and_names_its_surface():
    for package in packages():
        module = importlib.import_module(".".join(filter(None, (NAME, package))))
        assert module.__doc__ and len(module.__doc__.strip()) > 40, package
        if package in AIRFLOW_LAYOUT:
            continue  # Airflow's own layout: the classes live in thulium.py, as in the official providers
        assert hasattr(module, "__all__"), package
        assert all(hasattr(module, item) for item in module.__all__), package
        submodules = {path.stem for path in (PACKAGE / package).glob("*.py") if path.stem != "__init__"}
        if package and submodules:
            assert all(f"``{stem}``" in module.__doc__ for stem in submodules), package


def test_every_package_with_a_surface_has_it_pinned():
    assert sorted(SURFACES) == [package for package in packages() if package not in AIRFLOW_LAYOUT]


@pytest.mark.parametrize("package", sorted(SURFACES))
def test_a_packages_surface_is_the_one_pinned(package):
    module = importlib.import_module(".".join(filter(None, (NAME, package))))
    assert sorted(module.__all__) == sorted(SURFACES[package])


def test_the_development_guide_maps_every_module():
    guide = (ROOT / "docs" / "development.md").read_text(encoding="utf-8")
    section = guide.split("## How it is built", 1)[1].split("\n## ", 1)[0]
    missing = []
    for name, path in modules().items():
        if path.name == "__init__.py" or name.startswith(f"{NAME}.sandbox."):
            continue  # the sandbox's own __init__ maps its modules
        relative = path.relative_to(PACKAGE).as_posix()
        if not re.search(rf"(?<![\w/]){re.escape(relative)}(?!\w)", section) and not re.search(
            rf"(?<![\w/.]){re.escape(path.name)}", section
        ):
            missing.append(relative)
    assert missing == []


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("airflow_provider_thulium.hooks.thulium", "ThuliumHook"),
        ("airflow_provider_thulium.operators.thulium", "ThuliumSyncCampaignOperator"),
        ("airflow_provider_thulium.sources", "SqlSource"),
        ("airflow_provider_thulium.sources", "FileSource"),
        ("airflow_provider_thulium.destinations", "FileDestination"),
        ("airflow_provider_thulium.destinations", "SqlDestination"),
        ("airflow_provider_thulium.operators.thulium", "ThuliumExportRecordsOperator"),
        ("airflow_provider_thulium.sensors.thulium", "ThuliumCampaignSensor"),
        ("airflow_provider_thulium.triggers.thulium", "ThuliumCampaignTrigger"),
        ("airflow_provider_thulium.outcomes", "CampaignRecord"),
        ("airflow_provider_thulium.testing", "run_dag"),
        ("airflow_provider_thulium.exceptions", "ThuliumError"),
        ("airflow_provider_thulium.sandbox", "ThuliumSandbox"),
        ("airflow_provider_thulium.lineage", "sanitize_uri"),
        ("airflow_provider_thulium.client", "ThuliumClient"),
        ("airflow_provider_thulium.settings", "ThuliumSettings"),
        ("airflow_provider_thulium.outcomes", "RunSummary"),
    ],
)
def test_the_public_import_paths_keep_working(module, name):
    assert hasattr(importlib.import_module(module), name)
