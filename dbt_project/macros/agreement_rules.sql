{#
    BRIEF §4 rule 3, the one definition of "agreement A is active for a purchase":
    the purchase's category is among A's categories and its municipality
    participates in A (one row of int_agreement_terms per agreement, category and
    participant, '*' expanded) and A.valid_from <= day <= A.valid_to, both ends
    inclusive. A join condition on equality of (category, municipality) plus the
    date range; `terms` is the alias of int_agreement_terms. Used by
    int_spend_line_agreements (a line's invoice date) and threshold_flags (a month
    end: "an agreement for the category is active").
#}
{% macro agreement_is_active(terms, municipality_id, category_id, day) -%}
    {{ category_id }} = {{ terms }}.category_id
    and {{ municipality_id }} = {{ terms }}.municipality_id
    and {{ day }} >= {{ terms }}.valid_from
    and {{ day }} <= {{ terms }}.valid_to
{%- endmacro %}


{#
    The key int_spend_line_agreements is kept by - what matching depends on:
    (municipality, category, supplier identity, invoice date) - as a join condition
    of the lines (or line groups) `lines` to the agreements `line_agreements`.
#}
{% macro same_match_key(lines, line_agreements) -%}
    {{ lines }}.municipality_id = {{ line_agreements }}.municipality_id
    and {{ lines }}.category_id = {{ line_agreements }}.category_id
    and {{ lines }}.supplier_key = {{ line_agreements }}.supplier_key
    and {{ lines }}.invoice_date = {{ line_agreements }}.invoice_date
{%- endmacro %}


{#
    BRIEF §4 rule 5: off-agreement spend ("kjøp utenfor avtale") = covered spend -
    on-agreement spend, as an amount.
#}
{% macro off_agreement_spend(covered_spend, on_agreement_spend) -%}
    cast({{ covered_spend }} - {{ on_agreement_spend }} as decimal(38, 4))
{%- endmacro %}
