"""Staff pronunciations (a lexicon per area) and listening previews of scripts."""
