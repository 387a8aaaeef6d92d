-- finhouse on Snowflake, step 2: masking policies for PII, one per kind of personal data the dbt project
-- declares (transform/finhouse/models/staging/oltp/_oltp__sources.yml, `meta: {pii: <kind>}`; the kind → policy map
-- is dbt_project.yml's vars.pii_masking_policies). Masking policies need Snowflake Enterprise edition or
-- above. Run as GOVERNOR after 10_roles_and_grants.sql. Idempotent, and it upgrades: each policy is created if
-- missing (with a placeholder body: nothing uses a new policy yet), then its body and comment are SET, which
-- updates a policy in place wherever it is already attached (CREATE OR REPLACE would refuse an attached one).
--
-- Who sees the value: a session whose PRIMARY role (CURRENT_ROLE()) is exactly PII_READER, or TRANSFORMER
-- (dbt carries the values from RAW into staging and derives the marts' age bands from them). Not
-- IS_ROLE_IN_SESSION: that is true for every role above the named one in the hierarchy (SYSADMIN, had it
-- been granted PII_READER) and for secondary roles too (a user with DEFAULT_SECONDARY_ROLES = ('ALL') would
-- see PII in every query without ever choosing to). With CURRENT_ROLE() reading PII takes an explicit
-- `USE ROLE PII_READER`, which QUERY_HISTORY records with each query. Every other role sees the mask.
-- COPY INTO is not affected: masking applies to query results, never to what is loaded. Queries through a
-- view are judged on the querying session's role (CURRENT_ROLE), not the view owner's.
USE ROLE GOVERNOR;

-- names, free text staff typed, a payment provider's payload: nothing of it
CREATE MASKING POLICY IF NOT EXISTS ANALYTICS.GOVERNANCE.FH_MASK_TEXT AS (val VARCHAR) RETURNS VARCHAR -> val;
ALTER MASKING POLICY ANALYTICS.GOVERNANCE.FH_MASK_TEXT SET BODY ->
  CASE
    WHEN val IS NULL THEN NULL
    WHEN CURRENT_ROLE() IN ('PII_READER', 'TRANSFORMER') THEN val
    ELSE '***'
  END;
ALTER MASKING POLICY ANALYTICS.GOVERNANCE.FH_MASK_TEXT SET COMMENT = 'finhouse PII (name, free_text, contact): *** unless the primary role is PII_READER or TRANSFORMER';

-- national ID: the last 4 characters, enough to confirm a customer on the phone, not to identify one
CREATE MASKING POLICY IF NOT EXISTS ANALYTICS.GOVERNANCE.FH_MASK_NATIONAL_ID AS (val VARCHAR) RETURNS VARCHAR -> val;
ALTER MASKING POLICY ANALYTICS.GOVERNANCE.FH_MASK_NATIONAL_ID SET BODY ->
  CASE
    WHEN val IS NULL THEN NULL
    WHEN CURRENT_ROLE() IN ('PII_READER', 'TRANSFORMER') THEN val
    ELSE REPEAT('*', GREATEST(LENGTH(val) - 4, 0)) || RIGHT(val, 4)
  END;
ALTER MASKING POLICY ANALYTICS.GOVERNANCE.FH_MASK_NATIONAL_ID SET COMMENT = 'finhouse PII (national_id): last 4 characters unless the primary role is PII_READER or TRANSFORMER';

CREATE MASKING POLICY IF NOT EXISTS ANALYTICS.GOVERNANCE.FH_MASK_PHONE AS (val VARCHAR) RETURNS VARCHAR -> val;
ALTER MASKING POLICY ANALYTICS.GOVERNANCE.FH_MASK_PHONE SET BODY ->
  CASE
    WHEN val IS NULL THEN NULL
    WHEN CURRENT_ROLE() IN ('PII_READER', 'TRANSFORMER') THEN val
    ELSE REPEAT('*', GREATEST(LENGTH(val) - 3, 0)) || RIGHT(val, 3)
  END;
ALTER MASKING POLICY ANALYTICS.GOVERNANCE.FH_MASK_PHONE SET COMMENT = 'finhouse PII (phone): last 3 digits unless the primary role is PII_READER or TRANSFORMER';

-- date of birth: 1 January of the birth year (ages in years stay right within a year, the day is gone)
CREATE MASKING POLICY IF NOT EXISTS ANALYTICS.GOVERNANCE.FH_MASK_DATE AS (val DATE) RETURNS DATE -> val;
ALTER MASKING POLICY ANALYTICS.GOVERNANCE.FH_MASK_DATE SET BODY ->
  CASE
    WHEN val IS NULL THEN NULL
    WHEN CURRENT_ROLE() IN ('PII_READER', 'TRANSFORMER') THEN val
    ELSE DATE_FROM_PARTS(YEAR(val), 1, 1)
  END;
ALTER MASKING POLICY ANALYTICS.GOVERNANCE.FH_MASK_DATE SET COMMENT = 'finhouse PII (date_of_birth): the birth year unless the primary role is PII_READER or TRANSFORMER';

-- dbt sets these on the staging models it creates (their owner: TRANSFORMER), after each build of one
GRANT APPLY ON MASKING POLICY ANALYTICS.GOVERNANCE.FH_MASK_TEXT        TO ROLE TRANSFORMER;
GRANT APPLY ON MASKING POLICY ANALYTICS.GOVERNANCE.FH_MASK_NATIONAL_ID TO ROLE TRANSFORMER;
GRANT APPLY ON MASKING POLICY ANALYTICS.GOVERNANCE.FH_MASK_PHONE       TO ROLE TRANSFORMER;
GRANT APPLY ON MASKING POLICY ANALYTICS.GOVERNANCE.FH_MASK_DATE        TO ROLE TRANSFORMER;
