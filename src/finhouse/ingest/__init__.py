"""Ingestion: the OLTP into the warehouse's RAW layer. fhload (the C engine) does the work; here are its
runner (fhload), the table registry as Python objects, the Snowflake leg and the extraction role."""
