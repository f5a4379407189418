"""Typed entity Loads (``SupplierLoad`` ...) over the customer API: paging, dirty tracking, batching."""
