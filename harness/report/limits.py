"""JUnit that CI servers read: every property value bounded.

Jenkins' and GitLab's JUnit readers keep properties in memory and in their databases; a
multi-megabyte value (a whole log as evidence) makes a report they refuse or truncate. A value
longer than `MAX_PROPERTY` characters is moved to a file under the run's folder beside the
report (`<run id>/properties/<check>.<name>.txt`), and the property holds that file's path,
relative to the JUnit file's folder (the HTML report links it).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

MAX_PROPERTY = 4096  # characters; tests/data/junit-ci.xsd says the same
FOLDER = "properties"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:120] or "run"


def bound_properties(junit: Path, limit: int = MAX_PROPERTY) -> list[Path]:
    """Move every property value longer than `limit` to a file; returns the files written."""
    tree = ET.parse(junit)
    root = tree.getroot()
    run_id = next(
        (p.get("value", "") for p in root.iter("property") if p.get("name") == "run_id"), ""
    )
    folder = junit.parent / (_slug(run_id) if run_id else junit.stem) / FOLDER
    written: list[Path] = []
    owners = [(f"{c.get('classname', '')}.{c.get('name', '')}", c) for c in root.iter("testcase")]
    owners += [(s.get("name", "suite"), s) for s in root.iter("testsuite")]
    for owner, element in owners:
        for prop in element.findall("properties/property"):
            value = prop.get("value", "")
            if len(value) <= limit:
                continue
            path = folder / f"{_slug(owner)}.{_slug(prop.get('name', 'value'))}.txt"
            for n in range(2, 1000):  # a property recorded twice, two long ids alike
                if path not in written:
                    break
                path = path.with_name(f"{path.stem}.{n}.txt")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(value + "\n", encoding="utf-8")
            prop.set("value", path.relative_to(junit.parent).as_posix())
            written.append(path)
    if written:
        tree.write(junit, encoding="utf-8", xml_declaration=True)
    return written
