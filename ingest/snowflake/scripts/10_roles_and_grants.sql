-- finhouse on Snowflake, step 1: least-privilege roles and their grants.
-- Run as SECURITYADMIN after 00_warehouse_and_databases.sql. Idempotent.
--
--   LOADER       writes RAW.OLTP (the upload step: PUT, COPY INTO, its load log); reads nothing else
--   TRANSFORMER  reads RAW.OLTP, builds ANALYTICS.STAGING / INTERMEDIATE / MARTS (dbt), and sets the masking
--                   policies on the PII columns of the staging models it creates (dbt's post-hook)
--   REPORTER     reads ANALYTICS.MARTS only (Superset, analysts); the marts hold no PII
--   PII_READER   reads ANALYTICS.STAGING with the PII columns unmasked (see 20_masking_policies.sql), for
--                   the people whose work needs it (customer service investigations, the data protection
--                   officer); never granted to a service, to SYSADMIN or to another role
--   GOVERNOR     owns the masking policies and sets them on RAW
-- LOADER, REPORTER and GOVERNOR roll up to SYSADMIN, so administrators keep control of what they create.
-- TRANSFORMER and PII_READER deliberately do NOT: the masking policies exempt exactly those two roles when
-- they are a session's primary role (CURRENT_ROLE()), and an administrator who could USE ROLE either of
-- them would read PII in clear. SYSADMIN still owns the schemas (managed access: it decides every grant
-- in them) and can drop what dbt built; acting as dbt needs SECURITYADMIN to grant TRANSFORMER explicitly,
-- which the account's grant history records.
USE ROLE SECURITYADMIN;

CREATE ROLE IF NOT EXISTS LOADER      COMMENT = 'finhouse: loads RAW (fhload + finhouse snowflake-load)';
CREATE ROLE IF NOT EXISTS TRANSFORMER COMMENT = 'finhouse: dbt, reads RAW and writes ANALYTICS';
CREATE ROLE IF NOT EXISTS REPORTER    COMMENT = 'finhouse: dashboards, reads ANALYTICS.MARTS';
CREATE ROLE IF NOT EXISTS PII_READER  COMMENT = 'finhouse: sees PII columns unmasked';
CREATE ROLE IF NOT EXISTS GOVERNOR    COMMENT = 'finhouse: owns and applies masking policies';
GRANT ROLE LOADER      TO ROLE SYSADMIN;
GRANT ROLE REPORTER    TO ROLE SYSADMIN;
GRANT ROLE GOVERNOR    TO ROLE SYSADMIN;
-- Earlier versions of this script rolled these two up to SYSADMIN: undo it (a no-op when not granted).
REVOKE ROLE TRANSFORMER FROM ROLE SYSADMIN;
REVOKE ROLE PII_READER  FROM ROLE SYSADMIN;

-- ---- LOADER: RAW.OLTP only ----------------------------------------------------------------------
GRANT USAGE ON WAREHOUSE LOADING TO ROLE LOADER;
GRANT USAGE ON DATABASE RAW TO ROLE LOADER;
GRANT USAGE ON SCHEMA RAW.OLTP TO ROLE LOADER;
-- it creates a raw table on a table's first load and adds columns when the source grows, and the
-- sequence its load ids come from (FH_LOAD_ID_SEQ) on its first run
GRANT CREATE TABLE, CREATE VIEW, CREATE STAGE, CREATE SEQUENCE ON SCHEMA RAW.OLTP TO ROLE LOADER;
GRANT READ, WRITE ON STAGE RAW.OLTP.FH_STAGE TO ROLE LOADER;
GRANT USAGE ON FILE FORMAT RAW.OLTP.FH_PARQUET TO ROLE LOADER;
-- SELECT: row counts and delete detection; INSERT: COPY INTO and delete rows; UPDATE: the load log's
-- commit and the leases in FH_LEASES; DELETE: rolling back a load that never committed (never a
-- committed row).
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA RAW.OLTP TO ROLE LOADER;
GRANT SELECT, INSERT, UPDATE, DELETE ON FUTURE TABLES IN SCHEMA RAW.OLTP TO ROLE LOADER;
GRANT SELECT ON ALL VIEWS IN SCHEMA RAW.OLTP TO ROLE LOADER;
GRANT SELECT ON FUTURE VIEWS IN SCHEMA RAW.OLTP TO ROLE LOADER;

-- ---- TRANSFORMER: read RAW, write ANALYTICS ----------------------------------------------------
GRANT USAGE ON WAREHOUSE TRANSFORMING TO ROLE TRANSFORMER;
GRANT USAGE ON DATABASE RAW TO ROLE TRANSFORMER;
GRANT USAGE ON SCHEMA RAW.OLTP TO ROLE TRANSFORMER;
GRANT SELECT ON ALL TABLES IN SCHEMA RAW.OLTP TO ROLE TRANSFORMER;
GRANT SELECT ON FUTURE TABLES IN SCHEMA RAW.OLTP TO ROLE TRANSFORMER;
GRANT SELECT ON ALL VIEWS IN SCHEMA RAW.OLTP TO ROLE TRANSFORMER;
GRANT SELECT ON FUTURE VIEWS IN SCHEMA RAW.OLTP TO ROLE TRANSFORMER;
GRANT USAGE ON DATABASE ANALYTICS TO ROLE TRANSFORMER;
GRANT USAGE, CREATE TABLE, CREATE VIEW ON SCHEMA ANALYTICS.STAGING      TO ROLE TRANSFORMER;
GRANT USAGE, CREATE TABLE, CREATE VIEW ON SCHEMA ANALYTICS.INTERMEDIATE TO ROLE TRANSFORMER;
GRANT USAGE, CREATE TABLE, CREATE VIEW ON SCHEMA ANALYTICS.MARTS        TO ROLE TRANSFORMER;
-- dbt's own temporary and incremental work
GRANT CREATE TEMPORARY TABLE ON SCHEMA ANALYTICS.STAGING      TO ROLE TRANSFORMER;
GRANT CREATE TEMPORARY TABLE ON SCHEMA ANALYTICS.INTERMEDIATE TO ROLE TRANSFORMER;
GRANT CREATE TEMPORARY TABLE ON SCHEMA ANALYTICS.MARTS        TO ROLE TRANSFORMER;

-- ---- REPORTER: ANALYTICS.MARTS, read only ------------------------------------------------------
GRANT USAGE ON WAREHOUSE REPORTING TO ROLE REPORTER;
GRANT USAGE ON DATABASE ANALYTICS TO ROLE REPORTER;
GRANT USAGE ON SCHEMA ANALYTICS.MARTS TO ROLE REPORTER;
GRANT SELECT ON ALL TABLES IN SCHEMA ANALYTICS.MARTS TO ROLE REPORTER;
GRANT SELECT ON FUTURE TABLES IN SCHEMA ANALYTICS.MARTS TO ROLE REPORTER;
GRANT SELECT ON ALL VIEWS IN SCHEMA ANALYTICS.MARTS TO ROLE REPORTER;
GRANT SELECT ON FUTURE VIEWS IN SCHEMA ANALYTICS.MARTS TO ROLE REPORTER;

-- ---- PII_READER: the marts, and staging where the PII columns are (unmasked for this role only) -----
GRANT ROLE REPORTER TO ROLE PII_READER;
GRANT USAGE ON SCHEMA ANALYTICS.STAGING TO ROLE PII_READER;
GRANT SELECT ON ALL VIEWS IN SCHEMA ANALYTICS.STAGING TO ROLE PII_READER;
GRANT SELECT ON FUTURE VIEWS IN SCHEMA ANALYTICS.STAGING TO ROLE PII_READER;
GRANT SELECT ON ALL TABLES IN SCHEMA ANALYTICS.STAGING TO ROLE PII_READER;
GRANT SELECT ON FUTURE TABLES IN SCHEMA ANALYTICS.STAGING TO ROLE PII_READER;

-- ---- GOVERNOR: masking policies -----------------------------------------------------------------
GRANT USAGE ON DATABASE ANALYTICS TO ROLE GOVERNOR;
GRANT USAGE, CREATE MASKING POLICY ON SCHEMA ANALYTICS.GOVERNANCE TO ROLE GOVERNOR;
USE ROLE ACCOUNTADMIN;
GRANT APPLY MASKING POLICY ON ACCOUNT TO ROLE GOVERNOR;
USE ROLE SECURITYADMIN;
-- dbt (TRANSFORMER) sets the policies on the staging models it owns: USAGE on the policies' schema here,
-- APPLY on each policy in 20_masking_policies.sql (granted by GOVERNOR, their owner).
GRANT USAGE ON SCHEMA ANALYTICS.GOVERNANCE TO ROLE TRANSFORMER;

-- ---- service users: one per service, each with its one role ----------------------------------------
-- TYPE = SERVICE: no password, no MFA prompt, key-pair authentication only. Created without a key, they
-- cannot log in until one is set: ALTER USER FH_LOADER_SVC SET RSA_PUBLIC_KEY = '<the loader's public key>';
-- (and likewise for the two others). DEFAULT_SECONDARY_ROLES = (): a service acts with its one role, never
-- with the union of every role it may hold.
CREATE USER IF NOT EXISTS FH_LOADER_SVC TYPE = SERVICE DEFAULT_ROLE = LOADER DEFAULT_WAREHOUSE = LOADING
  DEFAULT_SECONDARY_ROLES = () COMMENT = 'finhouse: fhload + finhouse snowflake-load (SNOWFLAKE_USER of the loader)';
GRANT ROLE LOADER TO USER FH_LOADER_SVC;
CREATE USER IF NOT EXISTS FH_DBT_SVC TYPE = SERVICE DEFAULT_ROLE = TRANSFORMER DEFAULT_WAREHOUSE = TRANSFORMING
  DEFAULT_SECONDARY_ROLES = () COMMENT = 'finhouse: dbt (SNOWFLAKE_USER of the transform)';
GRANT ROLE TRANSFORMER TO USER FH_DBT_SVC;
CREATE USER IF NOT EXISTS FH_REPORTER_SVC TYPE = SERVICE DEFAULT_ROLE = REPORTER DEFAULT_WAREHOUSE = REPORTING
  DEFAULT_SECONDARY_ROLES = () COMMENT = 'finhouse: Superset (SNOWFLAKE_USER of the dashboards)';
GRANT ROLE REPORTER TO USER FH_REPORTER_SVC;
-- People who need PII in clear get PII_READER as a user, by name: GRANT ROLE PII_READER TO USER <person>;
