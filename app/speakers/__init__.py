"""Speakers: the loudspeaker terminals of each village, their tokens, heartbeats and health."""
