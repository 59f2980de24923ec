"""Deliveries (leveranser) for the host's procurement unit: is every member delivering
on time, and what was rejected.

UI only: the overdue decision is pipelines.freshness's (the spend contract's SLA, the same
one Dagster's freshness checks and `samkjop status` use), on the published snapshot's
delivery_reconciliation.
"""

from __future__ import annotations

import streamlit as st

from dashboards import queries, ui
from dashboards.formatting import fmt_date, is_missing

OVERDUE = (
    "Overdue (forsinket): the member's last accepted delivery (a file that loaded) is older "
    "than the spend contract's SLA allows; a rejected file or a duplicate does not count."
)

snapshot = ui.require_snapshot()
cooperation = queries.cooperation(snapshot)

st.title(f"{cooperation['cooperation_name']}: deliveries")
st.caption(ui.published_text(snapshot))

if not ui.mart_missing(snapshot, "marts.delivery_reconciliation"):
    status = queries.delivery_status(snapshot)
    overdue = status[status["is_overdue"]]
    if overdue.empty:
        st.success("Every member has delivered on time.", icon=":material/check_circle:")
    else:
        names = ", ".join(overdue["municipality_name"])
        st.error(f"Overdue: {names}", icon=":material/schedule:")
    st.caption(OVERDUE)
    table = status.assign(
        state=status["is_overdue"].map({True: "overdue", False: "on time"}),
        last_accepted=status["last_accepted"].map(
            lambda value: "never" if is_missing(value) else f"{value:%Y-%m-%d %H:%M}"
        ),
        due=status["due"].map(fmt_date),
        last_file=status["last_file"].fillna("—"),
        last_period=status["last_period"].fillna("—"),
        last_rejection=status["last_rejection"].fillna("—"),
    )[
        [
            "municipality_name",
            "state",
            "last_accepted",
            "last_file",
            "last_period",
            "due",
            "rejected_deliveries",
            "last_rejection",
        ]
    ]
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "municipality_name": "Member",
            "state": "State",
            "last_accepted": "Last accepted delivery",
            "last_file": "File",
            "last_period": "Declared period",
            "due": "Next due by",
            "rejected_deliveries": "Rejected deliveries",
            "last_rejection": st.column_config.TextColumn("Last rejection", width="large"),
        },
    )
