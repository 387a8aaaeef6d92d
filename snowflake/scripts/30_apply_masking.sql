-- finhouse on Snowflake, step 3: attach the masking policies to the PII columns of RAW. Run as
-- GOVERNOR after the first load (the loader creates RAW.OLTP.CUSTOMERS on its first run).
-- Rerunnable: FORCE replaces a policy already set. A PII column added to the source later must be
-- added here.
USE ROLE GOVERNOR;

ALTER TABLE IF EXISTS RAW.OLTP.CUSTOMERS MODIFY
  COLUMN NATIONAL_ID SET MASKING POLICY ANALYTICS.GOVERNANCE.FH_MASK_NATIONAL_ID FORCE,
  COLUMN PHONE SET MASKING POLICY ANALYTICS.GOVERNANCE.FH_MASK_PHONE FORCE;
-- dbt models that carry these columns (staging, marts) get the same policies from the dbt project (a
-- post-hook on those models), because dbt recreates its tables and a policy goes with the table. Check
-- after each change that every PII column is covered:

SELECT REF_DATABASE_NAME, REF_SCHEMA_NAME, REF_ENTITY_NAME, REF_COLUMN_NAME, POLICY_NAME
FROM TABLE(ANALYTICS.INFORMATION_SCHEMA.POLICY_REFERENCES(
  POLICY_NAME => 'ANALYTICS.GOVERNANCE.FH_MASK_NATIONAL_ID'))
UNION ALL
SELECT REF_DATABASE_NAME, REF_SCHEMA_NAME, REF_ENTITY_NAME, REF_COLUMN_NAME, POLICY_NAME
FROM TABLE(ANALYTICS.INFORMATION_SCHEMA.POLICY_REFERENCES(
  POLICY_NAME => 'ANALYTICS.GOVERNANCE.FH_MASK_PHONE'));
