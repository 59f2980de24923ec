"""Who may be named on the council's pages and in the annual report (GDPR).

A payee is shown as "private persons", in aggregate and never by name, when its spend
line has neither a validated organisation number nor a supplier-register entry: the
supplier identity of BRIEF §4 rule 5 is then only its name, and the marts key it
'name:' || the normalised name (reimbursements, foster care, a sole proprietorship named
after its owner); and when the supplier register marks the supplier `is_person` (the
dbt mart `private_payees` lists those identities). Line descriptions are never shown on
council pages. The procurement unit and the auditors keep full detail in
`samkjop export`.

The rule is written once here, as SQL over a mart's `supplier_key`, and every council
query reads it from here.
"""

from __future__ import annotations

PRIVATE_KEY = "private-persons"  # the supplier_key of the aggregated row


def is_private_person_sql(key_column: str = "supplier_key") -> str:
    """True for a payee that may not be named: identified neither by a validated
    organisation number nor by the supplier register ('name:' keys), or marked a person
    in the register (marts.private_payees)."""
    return (
        f"({key_column} is null or {key_column} like 'name:%' or {key_column} in "
        "(select supplier_key from marts.private_payees))"
    )


def shown_key_sql(key_column: str = "supplier_key") -> str:
    """The key a council query groups by: the supplier's, or PRIVATE_KEY for private persons."""
    return (
        f"case when {is_private_person_sql(key_column)} then '{PRIVATE_KEY}' else {key_column} end"
    )


def shown_sql(column: str, key_column: str = "supplier_key") -> str:
    """`column` (a name or an organisation number), NULL for a private person."""
    return f"case when {is_private_person_sql(key_column)} then null else {column} end"
