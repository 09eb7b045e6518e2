"""Knowing the customer: imported data, insights, journey, verified linking, export and forget."""
