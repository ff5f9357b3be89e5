"""Onboarding readiness: each municipality's steps to go-live per program, deadlines and PIA help."""
