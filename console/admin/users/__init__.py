"""User accounts: the list, account rules, the last-administrator guard, bulk actions."""
