"""mypage_svc: each member's page, a read model (CQRS) built only from events."""
