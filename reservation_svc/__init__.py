"""reservation_svc: bookings, and the saga that takes and gives back seats."""
