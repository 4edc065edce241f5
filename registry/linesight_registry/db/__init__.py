"""The registry's tables (Postgres schema `registry`) and their migrations."""
