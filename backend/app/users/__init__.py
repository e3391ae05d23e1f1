"""Users: model, schemas, repository, service, routes and the principal dependencies
(``CurrentUser``, ``AdminUser``; ADR-0031, ADR-0032)."""
