"""Day types: named sets of dates (春节, 农忙, school days) that schedules follow or skip."""
