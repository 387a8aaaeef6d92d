"""Transformation (dbt lives in dbt/finhouse): the tools the platform keeps beside it."""
