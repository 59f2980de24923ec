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


_LEGAL_FORMS = "as|asa|a s|aps|ab|oy|oyj|ltd|limited|plc"


def normalize_supplier_name(name: str) -> str:
    folded = (
        f"trim(regexp_replace(replace(lower({name}), '&', ' and '), "
        "'[^\\p{L}\\p{N}]+', ' ', 'g'))"
    )
    trailing = f"regexp_replace({folded}, '( ({_LEGAL_FORMS}))+$', '')"
    return f"nullif(regexp_replace({trailing}, '^(({_LEGAL_FORMS}) )+', ''), '')"


def matches_column_pattern_ignoring_case(expression: str, pattern_column: str) -> str:
    return f"regexp_matches({expression}, {pattern_column}, 'i')"


def null_safe_equal(left: str, right: str) -> str:
    return f"{left} is not distinct from {right}"


def agreement_is_active(terms: str, municipality_id: str, category_id: str, day: str) -> str:
    return (
        f"{category_id} = {terms}.category_id"
        f" and {municipality_id} = {terms}.municipality_id"
        f" and {day} >= {terms}.valid_from and {day} <= {terms}.valid_to"
    )


def with_cooperation_rollup(relation, dimensions, measures, all_aggregates=None) -> str:
    aggregates = all_aggregates or {}
    dimension_list = "".join(f"{d}, " for d in dimensions)
    members = ", ".join(measures)
    summed = ", ".join(f"{aggregates.get(m, f'sum({m})')} as {m}" for m in measures)
    return (
        f"select municipality_id, {dimension_list}{members} from {relation} "
        f"union all select 'ALL' as municipality_id, {dimension_list}{summed} "
        f"from {relation} group by {', '.join(dimensions)}"
    )


def sql_string_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def matches_pattern_ignoring_case(expression: str, pattern: str) -> str:
    return f"regexp_matches({expression}, {sql_string_literal('(?i)' + pattern)})"


def same_match_key(lines: str, line_agreements: str) -> str:
    return " and ".join(
        f"{lines}.{column} = {line_agreements}.{column}"
        for column in ("municipality_id", "category_id", "supplier_key", "invoice_date")
    )


def same_values(left: str, right: str, columns) -> str:
    return " and ".join(null_safe_equal(f"{left}.{c}", f"{right}.{c}") for c in columns)


def rate_to_cooperation_currency(currency: str, cooperation_currency: str, rate: str) -> str:
    return (
        f"case when {currency} = {cooperation_currency} then cast(1 as decimal(18, 8)) "
        f"else {rate} end"
    )


def off_agreement_spend(covered_spend: str, on_agreement_spend: str) -> str:
    return f"cast({covered_spend} - {on_agreement_spend} as decimal(18, 4))"


def member_or_cooperation_name(
    municipality_id: str, municipality_name: str, cooperation_name: str
) -> str:
    return (
        f"coalesce({municipality_name}, "
        f"case when {municipality_id} = 'ALL' then {cooperation_name} end)"
    )


def rule_key_columns() -> list[str]:
    return [
        "municipality_id",
        "valid_org_no",
        "local_supplier_id",
        "supplier_name",
        "art",
        "item_code",
        "invoice_date",
    ]


def valid_org_no(lines: str) -> str:
    return f"case when {lines}.is_supplier_org_no_valid then {lines}.supplier_org_no end"


def is_ordered_through_ehandel(order_ref: str) -> str:
    return f"({order_ref} is not null and trim({order_ref}) <> '')"


def new_deliveries_only(lines: str) -> str:
    return f"and {lines}.delivery_id in ('new delivery')"


def of_members_with_new_lines(lines: str) -> str:
    return f"and {lines}.municipality_id in ('member')"


def loaded_since_last_build(line_key: str) -> str:
    return f"and {line_key} > 0"


def line_model_materialization() -> str:
    return "incremental"


def forget_deliveries_no_longer_loaded() -> str:
    return ""


def ehandel_spend_columns() -> str:
    ordered = is_ordered_through_ehandel("order_ref")
    return (
        f"sum(case when {ordered} then amount else 0 end) as ehandel_influenceable_spend, "
        f"sum(case when is_on_agreement and {ordered} then amount else 0 end) "
        "as ehandel_on_agreement_spend"
    )
