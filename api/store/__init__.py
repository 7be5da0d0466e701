"""Everything that talks to Redis: keys, items, audit, accounts, rate limits.

Routes never issue Redis commands themselves; they call these functions, which raise the
typed errors of `api.store.errors` that `api.errors` turns into HTTP answers.
"""
