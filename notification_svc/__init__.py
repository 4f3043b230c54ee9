"""notification_svc: a member's notifications from reservation events, in-app and by email."""
