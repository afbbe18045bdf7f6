"""Official warning feeds (CMA CAP, provincial 12379): polled, matched to villages, relayed."""
