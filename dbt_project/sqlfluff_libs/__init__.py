"""Stand-ins for the dbt macros our models call, for sqlfluff's jinja templater.

sqlfluff lints the models with its plain jinja templater (no dbt connection),
so `dbt.*` cross-database macros and the project's own macros
(dbt_project/macros/) are rendered here as the DuckDB SQL they produce.
Keep them in step with the macros they stand for.
"""


def safe_ratio(numerator: str, denominator: str) -> str:
    return (
        f"case when {denominator} = 0 then null "
        f"else cast({numerator} as double) / cast({denominator} as double) end"
    )


def normalize_item_code(expression: str) -> str:
    return f"nullif(split_part(replace({expression}, ' ', ''), '-', 1), '')"


def collapse_whitespace(expression: str) -> str:
    return (f"regexp_replace({expression}, "
            "'[\\s\\x{00a0}\\x{2000}-\\x{200a}\\x{202f}\\x{205f}\\x{3000}]+', ' ', 'g')")


def add_months(months, date_expression: str) -> str:
    return f"cast(date_add({date_expression}, interval ({months}) month) as date)"


def month_end(date_expression: str) -> str:
    return f"last_day({date_expression})"


def reference_data(dataset: str) -> str:
    return f"reference.{dataset}"


def supplier_key(org_no: str, is_org_no_valid: str, name: str) -> str:
    return (
        f"case when {is_org_no_valid} and {org_no} is not null then {org_no} "
        f"else 'name:' || coalesce(lower(trim({collapse_whitespace(name)})), '') end"
    )


def equal_or_both_null(left: str, right: str) -> str:
    return f"({left} = {right} or ({left} is null and {right} is null))"
