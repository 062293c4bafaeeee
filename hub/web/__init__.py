"""The HTTP surface: middlewares, system routes, and the OpenAPI document."""
