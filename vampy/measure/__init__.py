"""Measurement: raw records -> statistics, resources, schedules, profiles, comparisons.
"""
