"""Measuring the AI double: does it sound like the creator, and does it stay grounded?"""
