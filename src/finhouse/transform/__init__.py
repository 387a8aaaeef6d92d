"""Transformation (dbt lives in transform/finhouse): the tools the platform keeps beside it."""
