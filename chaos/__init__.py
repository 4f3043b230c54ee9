"""`make chaos`: a mixed workload against the whole system while a nemesis kills services,
stops the broker, restarts PostgreSQL and cuts the network on a seeded schedule; then a checker
proves from every database and topic that nothing was lost or counted twice (issue 18 §2)."""
