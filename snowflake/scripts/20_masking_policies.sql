-- finhouse on Snowflake, step 2: masking policies for PII (national_id, phone). Masking policies need
-- Snowflake Enterprise edition or above. Run as GOVERNOR after 10_roles_and_grants.sql. Idempotent.
--
-- Who sees what: TRANSFORMER (dbt must carry the real values through to the marts) and anyone with
-- PII_READER in the session see the value; every other role sees a mask that keeps the last digits,
-- enough to tell two customers apart on a call, not enough to identify one.
-- COPY INTO is not affected: masking applies to query results, never to what is loaded.
USE ROLE GOVERNOR;

CREATE MASKING POLICY IF NOT EXISTS ANALYTICS.GOVERNANCE.FH_MASK_NATIONAL_ID AS (val VARCHAR)
  RETURNS VARCHAR ->
  CASE
    WHEN val IS NULL THEN NULL
    WHEN IS_ROLE_IN_SESSION('TRANSFORMER') OR IS_ROLE_IN_SESSION('PII_READER') THEN val
    ELSE REPEAT('*', GREATEST(LENGTH(val) - 4, 0)) || RIGHT(val, 4)
  END
  COMMENT = 'national ID: the last 4 characters unless the session holds PII_READER (or is dbt)';

CREATE MASKING POLICY IF NOT EXISTS ANALYTICS.GOVERNANCE.FH_MASK_PHONE AS (val VARCHAR)
  RETURNS VARCHAR ->
  CASE
    WHEN val IS NULL THEN NULL
    WHEN IS_ROLE_IN_SESSION('TRANSFORMER') OR IS_ROLE_IN_SESSION('PII_READER') THEN val
    ELSE REPEAT('*', GREATEST(LENGTH(val) - 3, 0)) || RIGHT(val, 3)
  END
  COMMENT = 'phone number: the last 3 digits unless the session holds PII_READER (or is dbt)';
