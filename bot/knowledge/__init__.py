"""Knowledge: the admin's Markdown pages and product catalog, chunked, embedded and searchable."""
