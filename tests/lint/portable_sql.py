"""Portable SQL in the dbt project, checked without any engine (`make lint`).

    python -m tests.lint.portable_sql [DBT_PROJECT_DIR]

The same models build on DuckDB and on Spark (README "Moving to a Spark cluster"); each
of these once gave wrong numbers on Spark without an error:
- a bare `varchar` type in YAML (seed column_types, contract data_type): `string`;
- `NOT IN (select ...)` in SQL: NULL-unsafe and engine-dependent on an empty list,
  write `not exists`;
- Postgres-only syntax in a `default__` macro, the variant every engine without its own
  falls back to: regexp_replace's 'g' flag, the `~*` / `~` / `!~` operators, `::` casts,
  `double precision`, `ilike`, `string_agg`. Put it in a `postgres__` variant.
Exit code 1 and one line per finding (file:line: what).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DEFAULT_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"
SKIPPED_FOLDERS = {"target", "logs", "dbt_packages", "sqlfluff_libs"}

BARE_VARCHAR = re.compile(r"^[^#]*:\s*[\"']?varchar\b", re.IGNORECASE)
NOT_IN_SELECT = re.compile(r"\bnot\s+in\s*\(\s*select\b", re.IGNORECASE)
DEFAULT_MACRO = re.compile(
    r"{%-?\s*macro\s+(default__\w+)\s*\(.*?%}(.*?){%-?\s*endmacro\s*-?%}", re.DOTALL
)
POSTGRES_ONLY = {
    "regexp_replace with a 'g' flag": re.compile(r",\s*'g'\s*\)"),
    "the regex operator ~ / ~* / !~": re.compile(r"(?<![~!<>=])!?~\*?(?=\s)"),
    "a :: cast": re.compile(r"(?<!:)::(?!:)"),
    "double precision": re.compile(r"\bdouble\s+precision\b", re.IGNORECASE),
    "ilike": re.compile(r"\bilike\b", re.IGNORECASE),
    "string_agg": re.compile(r"\bstring_agg\s*\(", re.IGNORECASE),
}
JINJA_COMMENT = re.compile(r"{#.*?#}", re.DOTALL)
SQL_LINE_COMMENT = re.compile(r"--[^\n]*")
JINJA_CODE = re.compile(r"{{.*?}}|{%.*?%}", re.DOTALL)  # `~` there joins strings


def _files(project: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(
        path
        for path in project.rglob("*")
        if path.suffix in suffixes
        and path.is_file()
        and not SKIPPED_FOLDERS & set(path.relative_to(project).parts)
    )


def _without_comments(text: str) -> str:
    """Comments blanked out, newlines kept (line numbers stay right)."""

    def blank(match: re.Match) -> str:
        return re.sub(r"[^\n]", " ", match.group(0))

    return SQL_LINE_COMMENT.sub(blank, JINJA_COMMENT.sub(blank, text))


def _blank_jinja(text: str) -> str:
    return JINJA_CODE.sub(lambda match: re.sub(r"[^\n]", " ", match.group(0)), text)


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def check_project(project: Path) -> list[str]:
    """The findings, as 'path:line: problem' relative to the project's parent."""
    findings = []
    root = project.parent
    for path in _files(project, (".yml", ".yaml")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if BARE_VARCHAR.search(line):
                findings.append(
                    f"{path.relative_to(root)}:{number}: bare varchar type (Spark has no "
                    "varchar without a length: write string)"
                )
    for path in _files(project, (".sql",)):
        text = _without_comments(path.read_text(encoding="utf-8"))
        for match in NOT_IN_SELECT.finditer(text):
            findings.append(
                f"{path.relative_to(root)}:{_line(text, match.start())}: NOT IN (select ...): "
                "write NOT EXISTS (NULL-safe, the same on every engine)"
            )
        for macro in DEFAULT_MACRO.finditer(text):
            body_start = macro.start(2)
            for what, pattern in POSTGRES_ONLY.items():
                for match in pattern.finditer(_blank_jinja(macro.group(2))):
                    line = _line(text, body_start + match.start())
                    findings.append(
                        f"{path.relative_to(root)}:{line}: {what} in {macro.group(1)}, the "
                        "variant other engines fall back to: move it to a postgres__ variant"
                    )
    return findings


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    project = Path(args[0]) if args else DEFAULT_PROJECT
    findings = check_project(project)
    for finding in findings:
        print(finding)
    if findings:
        print(f"portable SQL: {len(findings)} problems in {project}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
