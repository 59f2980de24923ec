"""Samkjøp dashboards: a Streamlit app that reads only the published read-only snapshot."""

SNAPSHOT_ENV = "SAMKJOP_SNAPSHOT"  # names the snapshot file; set by `samkjop dashboards`
