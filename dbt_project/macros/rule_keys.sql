{#
    The rule key of a spend line: everything BRIEF §4 rules 1-6 and 10 read of it -
    the member, the supplier as delivered (valid organisation number,
    local_supplier_id, name: int_supplier_identities), the art, the item code and
    the invoice date (rule 3's validity). Lines with one rule key get one supplier
    identity, one category and the same agreement flags, so the rules run once per
    key (int_spend_lines_classified, int_spend_line_agreements,
    int_spend_lines_matched) and fct_spend_lines joins the lines to the results on
    it once. Far fewer keys than lines: the suppliers, arts and item codes of a
    member repeat from day to day.
#}
{% macro rule_key_columns() -%}
    {{ return([
        'municipality_id',
        'valid_org_no',
        'local_supplier_id',
        'supplier_name',
        'art',
        'item_code',
        'invoice_date',
    ]) }}
{%- endmacro %}


{#
    A line's organisation number where it is valid (what identifies its supplier,
    int_supplier_identities), else NULL; `lines` is the relation's alias.
#}
{% macro valid_org_no(lines) -%}
    case when {{ lines }}.is_supplier_org_no_valid then {{ lines }}.supplier_org_no end
{%- endmacro %}
