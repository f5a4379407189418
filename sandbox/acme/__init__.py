"""A local Acme ERP supplier API, shaped like the framework's REST-pull recipe."""
