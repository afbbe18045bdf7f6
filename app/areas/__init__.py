"""Areas: the district → town → village tree."""
