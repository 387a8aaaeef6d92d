-- finhouse on Snowflake, step 0: compute, databases, schemas, the Parquet file format and the load stage.
-- Run as SYSADMIN (it then owns these objects), e.g. `snowsql -r SYSADMIN -f 00_warehouse_and_databases.sql`.
-- Every statement is idempotent (IF NOT EXISTS), so the script can be rerun. Names are the defaults the
-- platform expects (SNOWFLAKE_RAW_DATABASE=RAW, SNOWFLAKE_RAW_SCHEMA=OLTP, SNOWFLAKE_STAGE=FH_STAGE; dbt
-- writes to ANALYTICS.STAGING / INTERMEDIATE / MARTS); change them here and in .env together.
USE ROLE SYSADMIN;

-- One warehouse per kind of work, each suspending itself after a minute idle: a heavy dbt build never
-- queues a dashboard query or an upload, and the bill shows who spent what. (dbt's profile defaults to
-- TRANSFORMING, the loader to LOADING.)
CREATE WAREHOUSE IF NOT EXISTS LOADING
  WAREHOUSE_SIZE = 'XSMALL' AUTO_SUSPEND = 60 AUTO_RESUME = TRUE INITIALLY_SUSPENDED = TRUE
  COMMENT = 'finhouse: uploads (PUT, COPY INTO)';
CREATE WAREHOUSE IF NOT EXISTS TRANSFORMING
  WAREHOUSE_SIZE = 'XSMALL' AUTO_SUSPEND = 60 AUTO_RESUME = TRUE INITIALLY_SUSPENDED = TRUE
  COMMENT = 'finhouse: dbt builds';
CREATE WAREHOUSE IF NOT EXISTS REPORTING
  WAREHOUSE_SIZE = 'XSMALL' AUTO_SUSPEND = 60 AUTO_RESUME = TRUE INITIALLY_SUSPENDED = TRUE
  COMMENT = 'finhouse: Superset dashboards and analysts';

-- RAW: bronze, append-only, one table per OLTP table plus load metadata, loaded only by LOADER.
-- 7 days of Time Travel on RAW: an accidental change to the books' history can be undone.
CREATE DATABASE IF NOT EXISTS RAW DATA_RETENTION_TIME_IN_DAYS = 7
  COMMENT = 'finhouse RAW layer: unaltered OLTP rows with load metadata (_fh_load_id, _fh_loaded_at, _fh_op)';
CREATE SCHEMA IF NOT EXISTS RAW.OLTP WITH MANAGED ACCESS
  COMMENT = 'the core banking system''s tables, loaded by fhload + finhouse snowflake-load';

-- ANALYTICS: what dbt builds. Managed access: grants are decided by the schema owner (SYSADMIN), not by
-- whichever role created a table.
CREATE DATABASE IF NOT EXISTS ANALYTICS COMMENT = 'finhouse dbt models';
CREATE SCHEMA IF NOT EXISTS ANALYTICS.STAGING WITH MANAGED ACCESS COMMENT = 'one model per raw table, latest version of each row';
CREATE SCHEMA IF NOT EXISTS ANALYTICS.INTERMEDIATE WITH MANAGED ACCESS COMMENT = 'business logic between staging and marts';
CREATE SCHEMA IF NOT EXISTS ANALYTICS.MARTS WITH MANAGED ACCESS COMMENT = 'facts and dimensions the dashboards read';
CREATE SCHEMA IF NOT EXISTS ANALYTICS.GOVERNANCE WITH MANAGED ACCESS COMMENT = 'masking policies (no data)';

-- The Parquet format fhload writes (snappy inside the file, so no extra compression on PUT) and the
-- internal stage the loader PUTs to: @RAW.OLTP.FH_STAGE/<table>/<load id>/part-N.parquet.
CREATE FILE FORMAT IF NOT EXISTS RAW.OLTP.FH_PARQUET
  TYPE = PARQUET BINARY_AS_TEXT = FALSE USE_LOGICAL_TYPE = TRUE
  COMMENT = 'fhload --parquet output';
CREATE STAGE IF NOT EXISTS RAW.OLTP.FH_STAGE
  FILE_FORMAT = RAW.OLTP.FH_PARQUET ENCRYPTION = (TYPE = 'SNOWFLAKE_SSE')
  COMMENT = 'fhload Parquet files; COPY INTO ... PURGE = TRUE empties it after each confirmed load';

-- The loader creates its load log, state view and lease table on first run if they are missing;
-- creating them here lets SYSADMIN own them. The DDL is fhload's (`fhload --print-snowflake-setup`,
-- ingest/engine/src/load_log.c: the load log in the one shape of DuckDB's raw._fh_loads);
-- tests/test_snowflake.py checks that these statements are the ones it prints.
CREATE TABLE IF NOT EXISTS RAW.OLTP.FH_LOADS (
  LOAD_ID NUMBER(38,0) NOT NULL, TABLE_NAME VARCHAR NOT NULL, MODE VARCHAR NOT NULL,
  STARTED_AT TIMESTAMP_TZ NOT NULL, FINISHED_AT TIMESTAMP_TZ,
  ROWS_LOADED NUMBER(38,0) NOT NULL, ROWS_DELETED NUMBER(38,0) NOT NULL,
  FILES NUMBER(38,0) NOT NULL, WATERMARK_FROM TIMESTAMP_TZ, WATERMARK_TO TIMESTAMP_TZ,
  STATUS VARCHAR NOT NULL, PRIMARY KEY (TABLE_NAME, LOAD_ID))
  COMMENT = 'one row per load: pending -> ok (the commit point) or rolled_back';
CREATE VIEW IF NOT EXISTS RAW.OLTP.FH_STATE AS
  SELECT TABLE_NAME, WATERMARK_TO AS WATERMARK, LOAD_ID AS LAST_LOAD_ID, FINISHED_AT AS UPDATED_AT
  FROM RAW.OLTP.FH_LOADS WHERE STATUS = 'ok'
  QUALIFY ROW_NUMBER() OVER (PARTITION BY TABLE_NAME ORDER BY LOAD_ID DESC) = 1;
-- One loader per table at a time: a lease row per table, taken and renewed by conditional UPDATEs.
CREATE TABLE IF NOT EXISTS RAW.OLTP.FH_LEASES (
  TABLE_NAME VARCHAR NOT NULL, HOLDER VARCHAR, ACQUIRED_AT TIMESTAMP_TZ, EXPIRES_AT TIMESTAMP_TZ,
  PRIMARY KEY (TABLE_NAME))
  COMMENT = 'the loader holding each table (NULL: none) and until when its lease lasts';
-- The load id sequence RAW.OLTP.FH_LOAD_ID_SEQ is left to the loader: it creates it (ORDER) on its first
-- run starting above every LOAD_ID already in FH_LOADS, which a deployment loaded before the sequence
-- existed holds as microsecond timestamps. Created here it would start at 1, below them.
