"""Everything that touches Ray: start-up, actors, worker pools."""
