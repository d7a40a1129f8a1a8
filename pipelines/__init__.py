"""dlt sources, one module per system: ``crm``, ``billing``, ``support``, ``erp``, plus ``file`` for CSVs.

Each system module exposes ``source()`` (its ``@dlt.source``), configured by dlt from
``SOURCES__<SYSTEM>__...`` env vars or ``.dlt/secrets.toml``; ``customer_sync.extract`` runs them.
"""
