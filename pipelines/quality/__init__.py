"""Data quality: the data contracts checked with Great Expectations at the ingestion boundary."""
