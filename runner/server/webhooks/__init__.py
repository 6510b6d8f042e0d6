"""Webhooks: signed, durable, retried deliveries of job events (Standard Webhooks)."""
