"""The configuration reference, ``docs/config.md``, generated from the config schema.

``workflow/schemas/config.schema.yaml`` is the one place where an option's type, default and meaning
are written; this module renders it as a Markdown page (one heading per key, grouped by section, with
the values the demo config and the dataset profiles set as examples) and checks that every key has a
description.  Regenerate the page after editing the schema::

    python -m brainalign.configdoc            # rewrite docs/config.md
    python -m brainalign.configdoc --check    # exit 1 if docs/config.md is stale or a key lacks a description

``tests/unit/test_configdoc.py`` runs the check.  :func:`fill_defaults` fills a configuration's left-out
keys with the schema's defaults the way the workflow's validation does (``snakemake.utils.validate``
with ``set_default=True``), for the tests that compare a profile's effective configuration with the
schema.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
DOC = REPO / "docs" / "config.md"
DEMO_CONFIG = REPO / "config" / "config.yaml"
PROFILES = REPO / "config" / "datasets"

#: Placeholder for the user-chosen keys of a mapping (``models.<name>.source``).
NAME = "<name>"
_MISSING = object()


@dataclass(frozen=True)
class Option:
    """One key of the schema.

    Attributes
    ----------
    key
        Dotted path, with :data:`NAME` for the keys of a free-form mapping (``models.<name>.dtype``).
    schema
        The key's sub-schema.
    required
        Whether the enclosing object requires the key.
    variant
        For a key that exists only in one form of a ``oneOf``/``anyOf`` (``encoding.subjects.meg`` in
        the per-modality mapping), a short note saying so; else ``""``.
    """

    key: str
    schema: Mapping[str, Any]
    required: bool = False
    variant: str = ""

    @property
    def depth(self) -> int:
        """Nesting level (1 = a top-level section); a ``<name>`` level does not count."""
        return len([part for part in self.key.split(".") if part != NAME])

    @property
    def is_group(self) -> bool:
        """An object with named keys of its own (rendered as a section heading)."""
        return bool(_object_properties(self.schema))


def load_schema(path: Path | str = SCHEMA) -> dict:
    """The config schema as a dict."""
    return yaml.safe_load(Path(path).read_text())


def _object_properties(schema: Mapping[str, Any]) -> dict:
    return dict(schema.get("properties") or {})


def iter_options(schema: Mapping[str, Any], prefix: str = "") -> Iterator[Option]:
    """Every key of ``schema``, depth first in the schema's order (a group before its keys).

    Keys of a free-form mapping whose values are objects (``models``, ``dataset.story_runs``) appear
    once, as ``<mapping>.<name>.<key>``; the object forms of a ``oneOf``/``anyOf`` add their keys
    with a note (``variant``).
    """
    required = set(schema.get("required") or ())
    for name, sub in _object_properties(schema).items():
        key = f"{prefix}{name}"
        yield Option(key, sub, name in required)
        yield from _iter_inside(sub, key)


def _iter_inside(sub: Mapping[str, Any], key: str) -> Iterator[Option]:
    yield from iter_options(sub, f"{key}.")
    extra = sub.get("additionalProperties")
    if isinstance(extra, Mapping) and _object_properties(extra):
        yield from iter_options(extra, f"{key}.{NAME}.")
    for combinator in ("oneOf", "anyOf"):
        for branch in sub.get(combinator) or ():
            for option in iter_options(branch, f"{key}."):
                yield Option(option.key, option.schema, option.required,
                             option.variant or f"when `{key}` is a mapping")


def missing_descriptions(schema: Mapping[str, Any]) -> list[str]:
    """Dotted keys whose sub-schema has no (or an empty) ``description``."""
    return [o.key for o in iter_options(schema) if not str(o.schema.get("description") or "").strip()]


def fill_defaults(config: Mapping[str, Any], schema: Mapping[str, Any]) -> dict:
    """A copy of ``config`` with every left-out key that has a schema default filled in.

    The semantics of ``snakemake.utils.validate(config, schema, set_default=True)``: a missing key
    with a ``default`` gets that default, and the objects present (given or just defaulted) are filled
    in turn, including the values of free-form mappings (``models.<name>``); an object left out that
    has no ``default`` of its own stays out (its keys' defaults are not filled).  The entries of a
    mapping whose values have a schema (``additionalProperties`` or ``patternProperties``) are filled
    from it: ``models.<name>.random_control`` gets its default in every model entry.
    """
    out = copy.deepcopy(dict(config))
    _fill(out, schema)
    return out


def _fill(instance: Any, schema: Mapping[str, Any]) -> None:
    if isinstance(instance, list) and isinstance(schema.get("items"), Mapping):
        for item in instance:
            _fill(item, schema["items"])
    if not isinstance(instance, dict):
        return
    properties = _object_properties(schema)
    for name, sub in properties.items():
        if name not in instance and "default" in sub:
            instance[name] = copy.deepcopy(sub["default"])
    for name, value in instance.items():
        for sub in entry_schemas(schema, name):
            _fill(value, sub)
            for combinator in ("oneOf", "anyOf"):
                for branch in sub.get(combinator) or ():
                    _fill(value, branch)


def entry_schemas(schema: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    """The sub-schemas that apply to the value of key ``name`` of an object ``schema`` (JSON Schema's
    rules): its ``properties`` entry and every ``patternProperties`` entry whose pattern matches;
    ``additionalProperties`` (a schema) only when neither does.  A free-form mapping's entries
    (``models.<name>``) are filled and checked by the same rules as a named key's value.
    """
    found = [sub for pattern, sub in (schema.get("patternProperties") or {}).items()
             if isinstance(sub, Mapping) and re.search(pattern, name)]
    properties = _object_properties(schema)
    if name in properties:
        found.insert(0, properties[name])
    elif not found and isinstance(schema.get("additionalProperties"), Mapping):
        found.append(schema["additionalProperties"])
    return found


def defaults(schema: Mapping[str, Any] | None = None) -> dict:
    """The configuration an empty config validates to: every default of the schema."""
    return fill_defaults({}, schema if schema is not None else load_schema())


def lookup(config: Any, key: str) -> list[tuple[str, Any]]:
    """Values at dotted ``key`` in ``config``: ``[(label, value)]``, one per key of a ``<name>`` level
    (labelled with those names), empty when absent."""
    found: list[tuple[list[str], Any]] = [([], config)]
    for part in key.split("."):
        nxt = []
        for names, node in found:
            if not isinstance(node, Mapping):
                continue
            if part == NAME:
                nxt.extend(([*names, str(k)], v) for k, v in node.items())
            elif part in node:
                nxt.append((names, node[part]))
        found = nxt
    return [(", ".join(names), value) for names, value in found]


#: Environment variable naming the file :func:`dump_effective_config` writes.
DUMP_VARIABLE = "BRAINALIGN_CONFIG_DUMP"


def dump_effective_config(config: Mapping[str, Any], path: str | Path | None = None) -> Path | None:
    """Write the workflow's validated configuration as YAML to ``path`` (default: the file named by
    ``$BRAINALIGN_CONFIG_DUMP``; nothing when neither is set).

    The Snakefile calls it right after validation, so ``BRAINALIGN_CONFIG_DUMP=effective.yaml
    snakemake -n --configfile config/datasets/<name>.yaml`` shows what every rule gets: the files
    merged and the schema's defaults filled in.
    """
    import os

    path = path or os.environ.get(DUMP_VARIABLE)
    if not path:
        return None
    path = Path(path)
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
    return path


# ---------------------------------------------------------------------------------------- rendering

def _inline(value: Any, limit: int = 120) -> str:
    """A value as one line of YAML flow style, in backticks."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False).strip()
    if text.endswith("\n..."):
        text = text[: -len("\n...")]
    text = text.removesuffix("...").strip()
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"`{text}`"


def type_text(schema: Mapping[str, Any]) -> str:
    """A short human-readable type: ``integer``, ``one of `a`, `b```, ``list of number``, ..."""
    if "const" in schema:
        return _inline(schema["const"])
    if "enum" in schema:
        return "one of " + ", ".join(_inline(v) for v in schema["enum"])
    for combinator in ("oneOf", "anyOf"):
        if combinator in schema:
            return " or ".join(dict.fromkeys(type_text(b) for b in schema[combinator]))
    kinds = schema.get("type")
    if kinds is None:
        return "any"
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    parts = []
    for kind in kinds:
        if kind == "array" and "items" in schema:
            parts.append(f"list of {type_text(schema['items'])}")
        elif kind == "object" and isinstance(schema.get("additionalProperties"), Mapping) \
                and not _object_properties(schema):
            parts.append(f"mapping of name to {type_text(schema['additionalProperties'])}")
        else:
            parts.append(kind)
    return " or ".join(parts)


def constraints_text(schema: Mapping[str, Any]) -> str:
    """Bounds, sizes and patterns of a key (or of its list items)."""
    marks = {"minimum": "≥ {}", "exclusiveMinimum": "> {}", "maximum": "≤ {}", "exclusiveMaximum": "< {}",
             "minItems": "at least {} items", "maxItems": "at most {} items", "minProperties": "at least {} entries",
             "pattern": "matches `{}`"}
    parts = [fmt.format(schema[k]) for k, fmt in marks.items() if k in schema]
    if schema.get("uniqueItems"):
        parts.append("no duplicates")
    items = schema.get("items")
    if isinstance(items, Mapping):
        inner = constraints_text(items)
        if inner:
            parts.append(f"items {inner}")
    names = schema.get("propertyNames")
    if isinstance(names, Mapping) and "pattern" in names:
        parts.append(f"names match `{names['pattern']}`")
    return ", ".join(parts)


def _markdown(text: str) -> str:
    """A description as one Markdown paragraph: ``<`` and ``*`` escaped outside code spans
    (``results/<name>/`` would otherwise be read as an HTML tag, ``a_comp_cor_*`` as emphasis;
    GitHub's Markdown leaves underscores inside words alone)."""
    parts = " ".join(str(text).split()).split("`")
    for i in range(0, len(parts), 2):  # even parts lie outside backticks
        parts[i] = parts[i].replace("\\", "\\\\").replace("<", "\\<").replace("*", "\\*")
    return "`".join(parts)


def _first_sentence(text: str) -> str:
    text = " ".join(str(text).split())
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


def _examples(option: Option, sources: Mapping[str, Mapping]) -> str:
    if option.is_group:
        return ""
    parts = []
    for label, config in sources.items():
        for names, value in lookup(config, option.key):
            parts.append(f"{label}{f' ({names})' if names else ''}: {_inline(value, 80)}")
    return "; ".join(parts)


def _sources() -> dict[str, Mapping]:
    """The demo config and every dataset profile, by label (for the examples)."""
    out = {"demo (config/config.yaml)": yaml.safe_load(DEMO_CONFIG.read_text())}
    for path in sorted(PROFILES.glob("*.yaml")):
        out[path.stem] = yaml.safe_load(path.read_text()) or {}
    return out


_HEADER = """\
# Configuration reference

<!-- Generated by `python -m brainalign.configdoc` from workflow/schemas/config.schema.yaml: do not edit
by hand; edit the schema and regenerate (tests/unit/test_configdoc.py fails when this page is stale). -->

Every option of the workflow: its type, default and meaning, grouped by section. The schema
[`workflow/schemas/config.schema.yaml`](../workflow/schemas/config.schema.yaml) is the source of this
page; the workflow validates the configuration against it when it is parsed and stops, naming the key,
on an unknown key or a bad value.

**Where values come from.** Every key left out takes the default below; the defaults are set for real
data (with the literature's values where there are any). `snakemake` alone runs the demo with
[`config/config.yaml`](../config/config.yaml), the demo's configuration, whose values were tuned on
the demo (every other layer, a 0.15 map threshold, the planted forecast distance, LoRA on).
That file is read only when the command line (`--configfile`, `--config`) does not select another
`dataset.kind`: a dataset profile (`--configfile config/datasets/<name>.yaml`, `dataset.kind: bids`)
gets exactly these defaults plus what it sets. Later `--configfile` files and `--config` override
earlier ones, key by key. To see the configuration every rule gets (files merged, defaults filled):

```bash
BRAINALIGN_CONFIG_DUMP=effective.yaml snakemake -n --configfile config/datasets/narratives.yaml
```

*Examples* list the values that the demo config and the dataset profiles in `config/datasets/` set.
`<name>` stands for a key you choose (a model's name, a story).
"""


def render(schema: Mapping[str, Any] | None = None, sources: Mapping[str, Mapping] | None = None) -> str:
    """The Markdown page (deterministic: the same schema and configs give the same text)."""
    schema = schema if schema is not None else load_schema()
    sources = sources if sources is not None else _sources()
    options = list(iter_options(schema))
    lines = [_HEADER, "## Sections", ""]
    for option in options:
        if option.depth == 1:
            summary = _markdown(_first_sentence(option.schema.get("description") or ""))
            lines.append(f"- [`{option.key}`](#{option.key}): {summary}")
    lines.append("")
    for option in options:
        sub = option.schema
        lines.append(f"{'#' * min(option.depth + 1, 6)} `{option.key}`")
        lines.append("")
        facts = [f"**Type:** {type_text(sub)}"]
        bounds = constraints_text(sub)
        if bounds:
            facts.append(f"**Allowed:** {bounds}")
        if "default" in sub:
            facts.append(f"**Default:** {_inline(sub['default'])}")
        elif option.required:
            facts.append("**Required**")
        else:
            facts.append("**Default:** unset")
        if option.variant:
            facts.append(f"*({option.variant})*")
        lines.append(" · ".join(facts))
        lines.append("")
        lines.append(_markdown(sub.get("description") or ""))
        examples = _examples(option, sources)
        if examples:
            lines.append("")
            lines.append(f"*Examples:* {examples}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m brainalign.configdoc", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="do not write: exit 1 if the page is stale or a key lacks a description")
    parser.add_argument("--output", type=Path, default=DOC, help=f"the page (default {DOC.relative_to(REPO)})")
    parser.add_argument("--schema", type=Path, default=SCHEMA, help="the schema (default: the workflow's)")
    args = parser.parse_args(argv)
    schema = load_schema(args.schema)
    missing = missing_descriptions(schema)
    if missing:
        print(f"{args.schema}: {len(missing)} key(s) without a description: {', '.join(missing)}", file=sys.stderr)
    text = render(schema)
    if args.check:
        stale = not args.output.exists() or args.output.read_text() != text
        if stale:
            print(f"{args.output} is stale: regenerate it with `python -m brainalign.configdoc`", file=sys.stderr)
        return 1 if (stale or missing) else 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"wrote {args.output} ({sum(1 for _ in iter_options(schema))} keys)")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
