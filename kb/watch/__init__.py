"""`kb watch`: poll the followed status pages, find what changed, notify (kb.alerts)."""
