"""core.export"""
