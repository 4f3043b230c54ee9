"""yogaclass_svc: the studio's classes and their seats."""
