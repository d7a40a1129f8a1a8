-- The changes to make in erp: one row per record and field where the hub owns (or may write) the field
-- and the golden value differs from the landed one after standardization. The sync groups the rows of a
-- record into one operation and re-reads the record before writing it.
{{ changes_from_desired_state(ref('erp_desired_state')) }}
