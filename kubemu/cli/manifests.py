"""Reading manifests for `-f`: files, folders, stdin; multi-document YAML, JSON, and `kind: List`. Errors name
the file and the line of the offending field, so a user can jump straight to it."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubemu.api import serialization

_EXTENSIONS = (".yaml", ".yml", ".json")


class ManifestError(ValueError):
    pass


@dataclass
class Manifest:
    source: str
    """The file name as the user gave it (`-` for stdin)."""
    line: int
    """1-based line where the document starts."""
    data: dict[str, Any]
    node: yaml.Node | None
    """The YAML node tree, to find the line of a field path."""

    def line_of(self, field_path: str) -> int:
        """The line of `spec.containers[0].image` in this document (the nearest existing parent)."""
        node = self.node
        line = self.line
        if node is None:
            return line
        for part in re.findall(r"[^.\[\]]+|\[\d+\]", field_path):
            if isinstance(node, yaml.MappingNode) and not part.startswith("["):
                nxt = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
                key = next((k for k, v in node.value if getattr(k, "value", None) == part), None)
                if nxt is None:
                    break
                line = (key or nxt).start_mark.line + 1
                node = nxt
            elif isinstance(node, yaml.SequenceNode) and part.startswith("["):
                i = int(part[1:-1])
                if i >= len(node.value):
                    break
                node = node.value[i]
                line = node.start_mark.line + 1
            else:
                break
        return line

    def where(self, field_path: str = "") -> str:
        return f"{self.source}:{self.line_of(field_path) if field_path else self.line}"

    def decode(self) -> Any:
        try:
            return serialization.from_dict(self.data)
        except serialization.DecodeError as e:
            kind = self.data.get("kind", "object")
            version = self.data.get("apiVersion", "")
            field = e.field or _unknown_field(e.detail)
            raise ManifestError(
                f'error: error validating "{self.where(field)}": {kind} in version "{version}" cannot be handled '
                f"as a {kind}: strict decoding error: {e}"
            ) from None


def _unknown_field(detail: str) -> str:
    m = re.match(r'unknown field "([^"]+)"', detail)
    return m.group(1) if m else ""


def _expand(items: Any, manifest: Manifest) -> list[Manifest]:
    """`kind: List` (and a top-level JSON array) hold several objects."""
    out = []
    for i, item in enumerate(items):
        node: yaml.Node | None = None
        line = manifest.line
        if manifest.node is not None:
            seq: Any = manifest.node
            if isinstance(seq, yaml.MappingNode):
                seq = next((v for k, v in seq.value if getattr(k, "value", None) == "items"), None)
            if isinstance(seq, yaml.SequenceNode) and i < len(seq.value):
                node = seq.value[i]
                line = node.start_mark.line + 1
        if not isinstance(item, dict):
            raise ManifestError(f"error: {manifest.source}:{line}: expected an object in the list, got {item!r}")
        out.append(Manifest(manifest.source, line, item, node))
    return out


def parse_text(text: str, source: str) -> list[Manifest]:
    out: list[Manifest] = []
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        datas = list(yaml.safe_load_all(text))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(e, "problem", None) or str(e)
        raise ManifestError(f'error: error parsing "{where}": {problem}') from None
    for node, data in zip(nodes, datas, strict=True):
        if data is None:
            continue
        m = Manifest(source, node.start_mark.line + 1 if node is not None else 1, data, node)
        if isinstance(data, list):
            out.extend(_expand(data, m))
        elif isinstance(data, dict):
            if data.get("kind") == "List" or (str(data.get("kind", "")).endswith("List") and "items" in data):
                out.extend(_expand(data.get("items") or [], m))
            else:
                out.append(m)
        else:
            raise ManifestError(f"error: {m.where()}: expected a Kubernetes object, got {type(data).__name__}")
    return out


def load(paths: list[str], recursive: bool = False) -> list[Manifest]:
    """Every manifest named by `-f` arguments, in order. Nothing is sent anywhere here."""
    out: list[Manifest] = []
    for p in paths:
        if p == "-":
            out.extend(parse_text(sys.stdin.read(), "STDIN"))
            continue
        path = Path(p)
        if path.is_dir():
            files = sorted(path.rglob("*") if recursive else path.iterdir())
            for f in files:
                if f.is_file() and f.suffix in _EXTENSIONS:
                    out.extend(parse_text(f.read_text(), str(f)))
            continue
        if not path.exists():
            raise ManifestError(f'error: the path "{p}" does not exist')
        try:
            text = path.read_text()
        except OSError as e:
            raise ManifestError(f'error: cannot read "{p}": {e.strerror}') from None
        out.extend(parse_text(text, p))
    if not out:
        raise ManifestError("error: no objects passed to apply" if paths else "error: must specify -f")
    return out


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=4)
