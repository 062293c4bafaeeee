"""Repositories: the SQL of one aggregate or one service, answering in typed records."""
