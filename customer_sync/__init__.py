"""customer-sync: a customer master-data hub built on dlt, dbt and Postgres."""

__version__ = "0.1.0"
