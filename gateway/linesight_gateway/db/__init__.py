"""The gateway's tables (Postgres schema `gateway`) and their migrations."""
