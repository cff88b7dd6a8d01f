"""Self-service: knowledge base, error-code catalogue, search, deflection, videos, community Q&A."""
