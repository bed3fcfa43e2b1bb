-- One database per service (SPEC §5), all on one server, owned by the `mesa` role that
-- docker-compose.yml creates through POSTGRES_USER/POSTGRES_PASSWORD (mesa/mesa).
-- The postgres image runs this once, as that role, when the data volume is empty;
-- bin/stack creates the same databases outside Docker.
CREATE DATABASE mesa_intake OWNER mesa;
CREATE DATABASE mesa_query OWNER mesa;
CREATE DATABASE mesa_sla OWNER mesa;
CREATE DATABASE mesa_notifier OWNER mesa;
