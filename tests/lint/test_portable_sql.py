"""The portable-SQL guard of `make lint` (tests/lint/portable_sql.py): each pattern that
gave wrong numbers on Spark is flagged, with its file and line; the project is clean."""

import pytest

from tests.lint.portable_sql import DEFAULT_PROJECT, check_project, main


def _project(tmp_path, files):
    project = tmp_path / "dbt_project"
    for name, text in files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text, encoding="utf-8")
    return project


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "seeds/_seeds.yml",
            "seeds:\n  - name: t\n    config:\n      column_types:\n        code: varchar\n",
            "dbt_project/seeds/_seeds.yml:5: bare varchar type",
        ),
        (
            "models/_m.yml",
            "models:\n  - name: m\n    columns:\n      - name: c\n        data_type: 'VARCHAR'\n",
            "dbt_project/models/_m.yml:5: bare varchar type",
        ),
        (
            "models/m.sql",
            "select a\nfrom t\nwhere a NOT IN (\n    select b from u\n)\n",
            "dbt_project/models/m.sql:3: NOT IN (select ...)",
        ),
        (
            "macros/m.sql",
            "{% macro default__collapse(x) -%}\n    regexp_replace({{ x }}, '\\s+', ' ', 'g')\n{%- endmacro %}\n",
            "dbt_project/macros/m.sql:2: regexp_replace with a 'g' flag in default__collapse",
        ),
        (
            "macros/m.sql",
            "{% macro default__matches(x, p) -%}\n    ({{ x }} ~* {{ p }})\n{%- endmacro %}\n",
            "dbt_project/macros/m.sql:2: the regex operator ~ / ~* / !~ in default__matches",
        ),
        (
            "macros/m.sql",
            "{% macro default__to_int(x) -%}\n\n    {{ x }}::integer\n{%- endmacro %}\n",
            "dbt_project/macros/m.sql:3: a :: cast in default__to_int",
        ),
        (
            "macros/m.sql",
            "{% macro default__type_double() -%}\n    double precision\n{%- endmacro %}\n",
            "dbt_project/macros/m.sql:2: double precision in default__type_double",
        ),
        (
            "macros/m.sql",
            "{% macro default__names(x) -%}\n    string_agg({{ x }}, ', ')\n{%- endmacro %}\n",
            "dbt_project/macros/m.sql:2: string_agg in default__names",
        ),
    ],
)
def test_each_bad_pattern_is_flagged(tmp_path, name, text, expected):
    findings = check_project(_project(tmp_path, {name: text}))
    assert len(findings) == 1, findings
    assert findings[0].startswith(expected), findings


def test_what_is_portable_passes(tmp_path):
    project = _project(
        tmp_path,
        {
            # varchar in a description, and string types, are fine
            "seeds/_seeds.yml": "seeds:\n  - name: t\n    description: was varchar once\n"
            "    config:\n      column_types:\n        code: string\n",
            # NOT EXISTS, a literal list, and NOT IN (subquery) in a comment
            "models/m.sql": "-- never NOT IN (select b from u)\nselect a from t\n"
            "where a not in ('x', 'y')\nand not exists (select 1 from u where u.b = t.a)\n",
            # Postgres syntax in a postgres__ variant; `~` joining strings in Jinja
            "macros/m.sql": "{% macro postgres__matches(x, p) -%}\n    ({{ x }} ~* {{ p }})\n"
            '{%- endmacro %}\n{% macro default__label(x) -%}\n    {{ "\'" ~ x ~ "\'" }}\n'
            "{%- endmacro %}\n",
        },
    )
    assert check_project(project) == []


def test_the_dbt_project_is_portable():
    assert check_project(DEFAULT_PROJECT) == []


def test_main_exits_1_with_findings(tmp_path, capsys):
    project = _project(tmp_path, {"models/m.sql": "select 1 where 1 not in (select 2)\n"})
    assert main([str(project)]) == 1
    assert "m.sql:1: NOT IN (select" in capsys.readouterr().out
