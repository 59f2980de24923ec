"""Stand-ins for dbt's cross-database macros (`{{ dbt.concat(...) }}` ...)."""


def concat(fields: list[str]) -> str:
    return " || ".join(fields)


def date_trunc(datepart: str, date: str) -> str:
    return f"date_trunc('{datepart}', {date})"


def type_string() -> str:
    return "varchar"


def length(expression: str) -> str:
    return f"length({expression})"


def replace(field: str, old_chars: str, new_chars: str) -> str:
    return f"replace({field}, {old_chars}, {new_chars})"


def split_part(string_text: str, delimiter_text: str, part_number: int) -> str:
    return f"split_part({string_text}, {delimiter_text}, {part_number})"


def bool_or(expression: str) -> str:
    return f"bool_or({expression})"


def listagg(
    measure: str, delimiter_text: str = "','", order_by_clause: str = "", limit_num=None
) -> str:
    return f"string_agg({measure}, {delimiter_text} {order_by_clause or ''})"


def datediff(first_date: str, second_date: str, datepart: str) -> str:
    # dbt-duckdb renders `::timestamp`; cast() here keeps sqlfluff's casting-style rule quiet
    return (
        f"date_diff('{datepart}', cast({first_date} as timestamp), "
        f"cast({second_date} as timestamp))"
    )


def bool_or(expression: str) -> str:
    return f"bool_or({expression})"
