"""Development tooling: the local stack (`make run`, the integration tests, the bench), the
gateway's configuration, the SMTP sink and the deployment checks. Never copied into the image;
nothing under the service packages or yoga_common imports it."""
