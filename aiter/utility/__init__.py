"""Upstream aiter's ``aiter.utility`` helpers that norm tests and callers
import: ``dtypes`` (the dtype names) and ``fp4_utils`` (unpacking fp4)."""
