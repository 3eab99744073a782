"""Thin callbacks: routing and rotation (pages), one refresh per screen (screens), and the store
questions behind them (queries)."""
