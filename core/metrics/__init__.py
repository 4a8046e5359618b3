"""core.metrics"""
