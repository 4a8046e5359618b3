"""core.sampling"""
